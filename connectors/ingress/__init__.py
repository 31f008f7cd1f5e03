"""Source connectors: webhook and Notification API receivers, channels, poller, backfill."""

from __future__ import annotations

from .backfill import Backfill, Progress
from .channels import ChannelManager, ChannelState
from .hints import BadInput, HintBatch
from .metrics import IngressMetrics
from .poller import Poller
from .server import ChannelTokens, StaticChannelTokens, create_app
from .service import AppExtension, IngressService

__all__ = [
    "AppExtension",
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
    "create_app",
]
