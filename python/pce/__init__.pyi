"""Type stubs of pce (the extension module pce._pce, re-exported)."""
import os
from typing import Any, Callable, List, Literal, Mapping, Optional, Sequence, Union


Tokens = Union[Any, Sequence[int]]
"""A buffer of 32-bit unsigned ints (array('I'), numpy.uint32, memoryview),
read in place, or a sequence of ints in [0, 2**32), converted once."""

IntOrInts = Union[int, Sequence[int]]

MAX_TOKENS: int
MAX_PINS: int
MAX_SHARDS: int
MAX_KV_BYTES: int
NEVER: int
version: str
version_number: int
__version__: str

class Error(Exception):
    code: int
    name: str

class InvalidArgumentError(Error, ValueError): ...
class OutOfMemoryError(Error, MemoryError): ...
class ExistsError(Error): ...
class NotFoundError(Error, LookupError): ...
class BusyError(Error): ...
class NoSpaceError(Error): ...
class StaleError(Error): ...
class TooBigError(Error, ValueError): ...
class TooShortError(Error, ValueError): ...
class NoPinsError(Error): ...
class CorruptError(Error): ...
class ThreadError(Error): ...
class BadSnapshotError(Error): ...
class SnapshotIOError(Error): ...
class TimedOutError(Error, TimeoutError): ...
class UnavailableError(Error): ...
class ForkedError(Error):
    """Every call on a Cache or Router inherited across fork(), in the child."""
class EventBatchError(Error):
    """A KV-event batch could not be decoded (libpce_events)."""
class ZmqError(Error):
    """A ZMQ socket could not be created, bound or connected (libpce_events)."""

class Event(tuple):
    kind: str
    reason: Optional[str]
    ns: int
    value: int
    kv_bytes: int
    len: int
    tokens: Optional[memoryview]
    id: int
    owner: int
    tier: int

class Released(tuple):
    ns: int
    value: int
    kv_bytes: int
    len: int
    reason: str
    id: int

class StoreResult(tuple):
    stored: bool
    replaced: bool
    existing_value: Optional[int]
    new_tokens: int
    error: Optional[Error]
    holder_tokens: int
    holder_len: int
    holder_value: int
    holder_id: int
    holder_pin: Optional["Pin"]

class Evicted(tuple):
    entries: int
    kv_bytes: int
    tokens: int
    index_bytes: int
    complete: bool

class Pin:
    @property
    def id(self) -> int: ...
    @property
    def released(self) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> "Pin": ...
    def __exit__(self, *exc: object) -> bool: ...

class Match:
    tokens: int
    blocks: int
    value: int
    entry_len: int
    kv_bytes: int
    pin: Optional[Pin]
    def __bool__(self) -> bool: ...
    def __enter__(self) -> "Match": ...
    def __exit__(self, *exc: object) -> bool: ...

class Cache:
    def __init__(
        self,
        *,
        shards: int = 16,
        min_prefix_len: int = 1,
        block_size: int = 1,
        max_pins: int = 4096,
        policy: str = "lru",
        kv_mode: str = "declared",
        kv_bytes_per_token: int = 0,
        kv_budget: int = 0,
        index_budget: int = 0,
        max_entries: int = 0,
        high_watermark_pct: int = 90,
        low_watermark_pct: int = 80,
        default_ttl_ns: int = 0,
        default_pin_lease_ns: int = 0,
        reclaim_interval_ns: int = 10_000_000,
        background_reclaim: bool = True,
        on_release: Optional[Callable[[Released], object]] = None,
        on_event: Optional[Callable[[Event], object]] = None,
        clock: Optional[Callable[[], int]] = None,
    ) -> None: ...
    @property
    def closed(self) -> bool: ...
    def store(self, tokens: Tokens, value: int, kv_bytes: int = 0, *, ns: int = 0,
              replace: bool = False, ttl_ns: int = 0, pin_holder: bool = False,
              lease_ns: int = 0) -> StoreResult: ...
    def store_many(self, seqs: Sequence[Tokens], values: Sequence[int],
                   kv_bytes: IntOrInts = 0, *, ns: IntOrInts = 0, replace: bool = False,
                   ttl_ns: int = 0, pin_holder: bool = False,
                   lease_ns: int = 0) -> List[StoreResult]: ...
    def lookup(self, tokens: Tokens, *, ns: int = 0, pin: bool = False, whole: bool = False,
               peek: bool = False, lease_ns: int = 0) -> Match: ...
    def lookup_many(self, seqs: Sequence[Tokens], *, ns: IntOrInts = 0, pin: bool = False,
                    whole: bool = False, peek: bool = False,
                    lease_ns: int = 0) -> List[Match]: ...
    def remove(self, tokens: Tokens, *, ns: int = 0) -> int: ...
    def remove_prefix(self, tokens: Tokens, *, ns: int = 0) -> int: ...
    def touch(self, tokens: Tokens, *, ns: int = 0, ttl_ns: int = 0) -> None: ...
    def evict(self, amount: int, unit: Literal["kv_bytes", "tokens", "entries"]) -> Evicted: ...
    def set_budgets(self, *, kv_budget: Optional[int] = None,
                    index_budget: Optional[int] = None, max_entries: Optional[int] = None,
                    high_watermark_pct: Optional[int] = None,
                    low_watermark_pct: Optional[int] = None) -> None: ...
    def clear(self, ns: Optional[int] = None) -> int: ...
    def reclaim(self) -> None: ...
    def stats(self) -> dict: ...
    def shard_entries(self) -> List[int]: ...
    def audit(self, quiescent: bool = False) -> None: ...
    def dedup(self, seqs: Sequence[Tokens], *, ns: IntOrInts = 0) -> dict: ...
    def snapshot(self, path: Union[str, bytes, "os.PathLike[str]"]) -> None: ...
    @classmethod
    def restore(cls, path: Union[str, bytes, "os.PathLike[str]"], **config: Any) -> "Cache": ...
    def close(self) -> None: ...
    def __enter__(self) -> "Cache": ...
    def __exit__(self, *exc: object) -> None: ...

class Overlap(tuple):
    owner: int
    tokens: int
    tier: int
    score: float

class MatchResult(tuple):
    overlaps: List[Overlap]
    left: int

class Router:
    def __init__(
        self,
        *,
        shards: int = 16,
        block_size: int = 1,
        tier_weight: Union[Mapping[int, float], Sequence[float]] = ...,
        index_budget: int = 0,
        high_watermark_pct: int = 90,
        low_watermark_pct: int = 80,
        default_ttl_ns: int = 0,
        reclaim_interval_ns: int = 10_000_000,
        background_reclaim: bool = True,
        on_event: Optional[Callable[[Event], object]] = None,
        clock: Optional[Callable[[], int]] = None,
    ) -> None: ...
    @property
    def closed(self) -> bool: ...
    def add(self, owner: int, tokens: Tokens, tier: int = 0, *, ns: int = 0, ttl_ns: int = 0,
            retier: bool = False) -> int: ...
    def remove(self, owner: int, tokens: Tokens, *, ns: int = 0) -> None: ...
    def clear_owner(self, owner: int) -> int: ...
    def clear_ns(self, ns: int) -> int: ...
    def match(self, tokens: Tokens, k: int = 16, *, ns: int = 0,
              peek: bool = False) -> MatchResult: ...
    def match_many(self, seqs: Sequence[Tokens], k: int = 16, *, ns: IntOrInts = 0,
                   peek: bool = False) -> List[MatchResult]: ...
    def set_budgets(self, *, index_budget: Optional[int] = None,
                    high_watermark_pct: Optional[int] = None,
                    low_watermark_pct: Optional[int] = None) -> None: ...
    def reclaim(self) -> None: ...
    def stats(self) -> dict: ...
    def audit(self) -> None: ...
    def snapshot(self, path: Union[str, bytes, "os.PathLike[str]"]) -> None: ...
    @classmethod
    def restore(cls, path: Union[str, bytes, "os.PathLike[str]"], **config: Any) -> "Router": ...
    def close(self) -> None: ...
    def __enter__(self) -> "Router": ...
    def __exit__(self, *exc: object) -> None: ...

TIER_GPU: int
TIER_CPU: int
TIER_DISK: int
TIER_REMOTE: int
TIERS: int

def dedup(seqs: Sequence[Tokens], *, ns: IntOrInts = 0) -> dict: ...
def strerror(code: int) -> str: ...
def err_name(code: int) -> str: ...
