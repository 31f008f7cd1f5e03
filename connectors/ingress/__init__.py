"""Source connectors: webhook and Notification API receivers, channels, poller, backfill."""

from __future__ import annotations

from .backfill import Backfill, Progress
from .channels import ChannelManager, ChannelState
from .hints import BadInput, HintBatch
from .metrics import IngressMetrics
from .poller import Poller
from .server import ChannelTokens, StaticChannelTokens, create_app
from .service import IngressService, channels_topic, cursors_topic

__all__ = [
    "Backfill",
    "BadInput",
    "ChannelManager",
    "ChannelState",
    "ChannelTokens",
    "HintBatch",
    "IngressMetrics",
    "IngressService",
    "Poller",
    "Progress",
    "StaticChannelTokens",
    "channels_topic",
    "create_app",
    "cursors_topic",
]
