"""Kafka plumbing: the cluster and its clients (`cluster`), the producer and bulk batches
(`producer`), compacted topics as maps (`compacted`), the deployment's shared credits
(`credit_share`). Outside this package only the worker's engine (`pipeline/worker/`) imports
aiokafka; everyone else takes the names below."""

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from connectors.kafka.cluster import KafkaCluster, KafkaUnavailable, ensure_topics
from connectors.kafka.compacted import (
    CompactedReader,
    CompactedTable,
    CompactedWriter,
    KafkaKV,
    apply_compacted,
    messages_to_end,
)
from connectors.kafka.producer import Bulk, Headers, KafkaProducer, Message, Producer, partition_of

__all__ = [
    "AIOKafkaConsumer",
    "Bulk",
    "CompactedReader",
    "CompactedTable",
    "CompactedWriter",
    "ConsumerRecord",
    "Headers",
    "KafkaCluster",
    "KafkaError",
    "KafkaKV",
    "KafkaProducer",
    "KafkaUnavailable",
    "Message",
    "Producer",
    "TopicPartition",
    "apply_compacted",
    "ensure_topics",
    "messages_to_end",
    "partition_of",
]
