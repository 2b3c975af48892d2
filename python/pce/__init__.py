"""libpce: a concurrent prefix cache for LLM inference.

pce.Cache answers, from many threads at once, "what is the longest cached
prefix of these tokens, and where is its KV?", and keeps its memory within
byte budgets by itself.  Tokens are read in place from any buffer of 32-bit
unsigned ints (array('I'), numpy.uint32) or converted once from a sequence
of ints.  pce.Router answers "which workers hold how much of this prompt?"
for every worker in one walk.  Every libpce error code is an exception
class under pce.Error.
"""
import atexit

from ._pce import (
    MAX_KV_BYTES, MAX_PINS, MAX_SHARDS, MAX_TOKENS, NEVER, BadSnapshotError, BusyError,
    Cache, CorruptError, SnapshotIOError,
    Error, Event, Evicted, ExistsError, ForkedError, InvalidArgumentError, Match, NoPinsError,
    NoSpaceError, NotFoundError, OutOfMemoryError, Pin, Released, StaleError, StoreResult,
    ThreadError, TimedOutError, TooBigError, TooShortError, EventBatchError, ZmqError,
    UnavailableError, dedup, err_name, strerror, version,
    version_number, Router, Overlap, MatchResult, TIER_GPU, TIER_CPU, TIER_DISK, TIER_REMOTE,
    TIERS,
)
from . import _pce

# Callbacks from libpce's threads stop before the interpreter finalizes.
atexit.register(_pce._shutdown)

__version__ = version
__all__ = [
    "Cache", "Match", "Pin", "StoreResult", "Evicted", "Event", "Released", "dedup", "strerror",
    "err_name", "version", "version_number", "MAX_TOKENS", "MAX_PINS", "MAX_SHARDS",
    "MAX_KV_BYTES", "NEVER", "Error", "InvalidArgumentError", "OutOfMemoryError",
    "ExistsError", "NotFoundError", "BusyError", "NoSpaceError", "StaleError",
    "TooBigError", "TooShortError", "NoPinsError", "CorruptError", "ThreadError",
    "ForkedError", "BadSnapshotError", "SnapshotIOError", "EventBatchError", "ZmqError", "TimedOutError", "UnavailableError", "Router", "Overlap", "MatchResult", "TIER_GPU", "TIER_CPU", "TIER_DISK",
    "TIER_REMOTE", "TIERS",
]
