"""Configuration: `config.toml`, overridden key by key by `CHATSERVER_<SECTION>_<KEY>`.

Every key is declared once, as a dataclass field with its type, default and
bounds, so loading, environment overrides, validation and the README's
reference all come from the same place. A bad or unknown key stops start-up
with one line naming it (`ConfigError`), because a server that silently runs
with a typo'd limit is worse than one that refuses to start.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rooms.registry import AUDIENCES, Room, RoomRegistry

ENV_PREFIX = "CHATSERVER_"
# Variables the test suite and tools own; they are not config keys.
_ENV_IGNORED_PREFIXES = ("CHATSERVER_TEST_", "CHATSERVER_BENCH_")


class ConfigError(ValueError):
    """A configuration key is unknown or its value is not allowed."""


def _key(doc: str, *, lo: float | None = None, hi: float | None = None,
         choices: tuple[str, ...] | None = None, default: Any = MISSING,
         factory: Any = MISSING) -> Any:
    meta = {"doc": doc, "lo": lo, "hi": hi, "choices": choices}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ServerConfig:
    host: str = _key("Address to listen on.", default="127.0.0.1")
    port: int = _key("TCP port to listen on.", lo=0, hi=65535, default=8000)
    data_dir: str = _key("Folder for the embedded Redis and other local state.", default="data")
    allowed_origins: list[str] = _key(
        "Extra WebSocket/CSRF origins allowed besides the request's own host.", factory=list)
    heartbeat_interval: float = _key("Seconds between WebSocket pings.", lo=1, hi=3600,
                                     default=20.0)
    heartbeat_timeout: float = _key(
        "Seconds a client may leave a ping unanswered before it is dropped.", lo=1, hi=3600,
        default=20.0)
    hello_timeout: float = _key("Seconds a new connection has to send `hello`.", lo=0.1, hi=600,
                                default=10.0)
    outgoing_queue: int = _key(
        "Frames queued per connection before a slow client is dropped with 4008.", lo=1,
        hi=1_000_000, default=1024)
    shutdown_timeout: float = _key("Seconds a draining node waits for in-flight work.", lo=0,
                                   hi=3600, default=10.0)
    secure_cookies: bool = _key("Mark the session cookie Secure (behind TLS).", default=False)
    trusted_proxies: list[str] = _key(
        "Peer addresses whose X-Forwarded-For / Forwarded headers are believed.", factory=list)
    node_id: str = _key("Name of this node in logs and presence; empty = random.", default="")
    log_level: str = _key("Log level.", choices=("debug", "info", "warning", "error"),
                          default="info")


@dataclass(frozen=True)
class RedisConfig:
    url: str = _key("Redis URL; empty starts an embedded Redis under server.data_dir.",
                    default="")
    prefix: str = _key("Prefix of every key and channel, so deployments can share a Redis.",
                       default="pc:")


@dataclass(frozen=True)
class AuthConfig:
    allow_guests: bool = _key("Allow guest identities (no account).", default=True)
    guest_ttl: int = _key("Seconds a guest token stays valid.", lo=60, hi=30 * 86400,
                          default=86400)
    session_ttl: int = _key("Seconds of inactivity before a session token expires (sliding).",
                            lo=60, hi=365 * 86400, default=14 * 86400)
    argon2_time_cost: int = _key("argon2id iterations.", lo=1, hi=20, default=3)
    argon2_memory_cost: int = _key("argon2id memory in KiB.", lo=8, hi=4_194_304,
                                   default=65536)
    argon2_parallelism: int = _key("argon2id lanes.", lo=1, hi=64, default=2)
    login_attempts: int = _key("Failed logins per handle and per address per window.", lo=1,
                               hi=10_000, default=10)
    login_window: int = _key("Seconds of the login throttle window.", lo=1, hi=86400,
                             default=300)


@dataclass(frozen=True)
class LimitsConfig:
    max_frame_bytes: int = _key("Largest frame a client may send, in bytes (bigger: 1009).",
                                lo=256, hi=16 * 1024 * 1024, default=16384)
    max_message_chars: int = _key("Longest message text in code points.", lo=1, hi=100_000,
                                  default=2000)
    send_rate: float = _key("Messages per second per user, sustained (shared by all nodes).",
                            lo=0.001, hi=1e9, default=1.0)
    send_burst: float = _key("Messages a user may send at once before the rate applies.", lo=1,
                             hi=1e9, default=5.0)
    max_connections_per_user: int = _key("Open connections per identity.", lo=1, hi=1_000_000,
                                         default=10)
    max_connections_per_address: int = _key("Open connections per client address.", lo=1,
                                            hi=1_000_000, default=1000)
    max_rooms_per_connection: int = _key("Rooms one connection may have joined.", lo=1,
                                         hi=10_000, default=20)
    bad_frames_per_minute: int = _key("bad_request replies per minute before close 4029.", lo=1,
                                      hi=10_000, default=10)
    typing_interval: float = _key("Minimum seconds between forwarded `typing` events.", lo=0,
                                  hi=60, default=2.0)


@dataclass(frozen=True)
class HistoryConfig:
    max_messages: int = _key("Messages kept per room.", lo=1, hi=10_000_000, default=10000)
    retention_days: float = _key("Days a message is kept.", lo=0.001, hi=36500, default=30.0)
    on_join: int = _key("Messages returned by `join` without `since`.", lo=0, hi=1000,
                        default=50)
    max_recover: int = _key("Most messages `join` with `since` returns before giving up.",
                            lo=1, hi=100_000, default=500)


@dataclass(frozen=True)
class ModerationConfig:
    enabled: bool = _key("Run the moderation pipeline on every message.", default=True)
    default_region: str = _key("Region (ISO 3166-1 alpha-2, or *) when the client gives none.",
                               default="*")
    webhook_url: str = _key("On-call webhook for escalations (empty: none configured).",
                            default="")
    escalate_after_seconds: float = _key(
        "Seconds a high/imminent flag may stay unclaimed before escalation.", lo=0, hi=86400,
        default=60.0)
    claim_timeout_seconds: float = _key("Seconds before a silent moderator's claim reopens.",
                                        lo=1, hi=86400, default=600.0)
    shift_minutes: float = _key("Minutes on shift before a moderator is nudged to rest.", lo=1,
                                hi=1440, default=90.0)
    trajectory_window_seconds: int = _key(
        "Window in which repeated medium signals from one user raise severity.", lo=1,
        hi=30 * 86400, default=3600)
    report_rate: int = _key("Reports one user may file per hour.", lo=1, hi=10_000, default=20)
    unstaffed_hold: list[str] = _key(
        "Categories held in every room while no moderator is watching (own crisis never).",
        factory=lambda: ["encourages_self_harm", "contact_sharing"])
    unstaffed_slowmode_seconds: float = _key(
        "Slow mode applied to every room while no moderator is watching (0 = off).", lo=0,
        hi=3600, default=0.0)


_SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "redis": RedisConfig,
    "auth": AuthConfig,
    "limits": LimitsConfig,
    "history": HistoryConfig,
    "moderation": ModerationConfig,
}

_ROOM_KEYS: dict[str, type] = {
    "title": str, "description": str, "guidelines": str, "audience": str, "language": str,
    "guests": bool, "topic": str, "policy": dict,
}


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    rooms: RoomRegistry = field(default_factory=lambda: RoomRegistry([]))

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir).expanduser().resolve()


def _coerce(name: str, kind: Any, value: Any, *, from_env: bool) -> Any:
    """Turn a TOML or environment value into the field's type, or say what is allowed."""
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind_name == "bool":
        if isinstance(value, bool):
            return value
        if from_env and isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if kind_name == "int":
        if isinstance(value, bool):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if from_env and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if kind_name == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_env and isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if kind_name == "str":
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    if kind_name.startswith("list"):
        if from_env and isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{name}: not a JSON list ({exc.msg})") from None
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
    raise ConfigError(f"{name}: unsupported type {kind_name}")  # pragma: no cover


def _check_bounds(name: str, meta: Mapping[str, Any], value: Any) -> None:
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{name}: must be one of {', '.join(choices)}; got {value!r}")
    if lo is not None and value < lo:
        raise ConfigError(f"{name}: must be at least {lo}; got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(f"{name}: must be at most {hi}; got {value!r}")


def _build_section(section: str, cls: type, raw: Mapping[str, Any],
                   env: Mapping[str, str]) -> Any:
    known = {f.name: f for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{section}.{key}: unknown key; allowed: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for name, f in known.items():
        dotted = f"{section}.{name}"
        env_name = f"{ENV_PREFIX}{section.upper()}_{name.upper()}"
        if env_name in env:
            value = _coerce(f"{dotted} (from {env_name})", f.type, env[env_name], from_env=True)
        elif name in raw:
            value = _coerce(dotted, f.type, raw[name], from_env=False)
        else:
            continue
        _check_bounds(dotted, f.metadata, value)
        values[name] = value
    return cls(**values)


def _env_room_overrides(slug: str, env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    stem = f"{ENV_PREFIX}ROOMS_{slug.upper().replace('-', '_')}_"
    for key, kind in _ROOM_KEYS.items():
        env_name = stem + key.upper()
        if env_name in env and kind is not dict:
            out[key] = _coerce(f"rooms.{slug}.{key} (from {env_name})", kind.__name__,
                               env[env_name], from_env=True)
    return out


def _build_rooms(raw: Any, env: Mapping[str, str]) -> RoomRegistry:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("rooms: expected a table of rooms ([rooms.<slug>])")
    rooms: list[Room] = []
    for slug, spec in raw.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"rooms.{slug}: expected a table")
        for key in spec:
            if key not in _ROOM_KEYS:
                raise ConfigError(
                    f"rooms.{slug}.{key}: unknown key; allowed: {', '.join(sorted(_ROOM_KEYS))}")
        merged = {**spec, **_env_room_overrides(slug, env)}
        for key in ("title", "description", "guidelines"):
            if not isinstance(merged.get(key), str) or not merged[key].strip():
                raise ConfigError(f"rooms.{slug}.{key}: required, a non-empty string")
        audience = merged.get("audience", "all")
        if audience not in AUDIENCES:
            raise ConfigError(
                f"rooms.{slug}.audience: must be one of {', '.join(AUDIENCES)}; got {audience!r}")
        guests = merged.get("guests", audience == "all")
        if not isinstance(guests, bool):
            raise ConfigError(f"rooms.{slug}.guests: expected true or false, got {guests!r}")
        policy = merged.get("policy", {})
        if not isinstance(policy, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in policy.items()):
            raise ConfigError(f"rooms.{slug}.policy: expected a table of category = action")
        try:
            rooms.append(Room(
                slug=slug, title=merged["title"].strip(),
                description=merged["description"].strip(),
                guidelines=merged["guidelines"].strip(), audience=audience,
                language=str(merged.get("language", "en")), guests=guests,
                topic=str(merged.get("topic", slug)), policy=dict(policy)))
        except ValueError as exc:
            raise ConfigError(f"rooms.{slug}: {exc}") from None
    return RoomRegistry(rooms)


def _check_env_names(env: Mapping[str, str], rooms: RoomRegistry) -> None:
    """Refuse CHATSERVER_* variables that name no key: a typo must not pass silently."""
    allowed = {f"{ENV_PREFIX}{s.upper()}_{f.name.upper()}"
               for s, cls in _SECTIONS.items() for f in fields(cls)}
    allowed.add(f"{ENV_PREFIX}CONFIG")
    for room in rooms:
        stem = f"{ENV_PREFIX}ROOMS_{room.slug.upper().replace('-', '_')}_"
        allowed.update(stem + k.upper() for k, t in _ROOM_KEYS.items() if t is not dict)
    for name in env:
        if name.startswith(ENV_PREFIX) and not name.startswith(_ENV_IGNORED_PREFIXES) \
                and name not in allowed:
            raise ConfigError(f"{name}: unknown configuration variable")


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (or defaults only when None), apply environment overrides, validate."""
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {p}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: not valid TOML ({exc})") from None
    for section in raw:
        if section not in _SECTIONS and section != "rooms":
            raise ConfigError(
                f"{section}: unknown section; allowed: {', '.join([*_SECTIONS, 'rooms'])}")
    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: expected a table")
        built[section] = _build_section(section, cls, table, env)
    rooms = _build_rooms(raw.get("rooms"), env)
    _check_env_names(env, rooms)
    cfg = Config(rooms=rooms, **built)
    from moderation.verdict import CATEGORIES

    for category in cfg.moderation.unstaffed_hold:
        if category not in CATEGORIES:
            raise ConfigError(f"moderation.unstaffed_hold: unknown category {category!r}; "
                              f"allowed: {', '.join(CATEGORIES)}")
    region = cfg.moderation.default_region
    if region != "*" and not (len(region) == 2 and region.isalpha() and region.isupper()):
        raise ConfigError(
            f"moderation.default_region: an ISO 3166-1 alpha-2 code like US, or *; got {region!r}")
    return cfg


def with_overrides(cfg: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy of `cfg` with some keys replaced (used by the CLI's --host/--port)."""
    changes = {name: replace(getattr(cfg, name), **dict(values))
               for name, values in sections.items()}
    return replace(cfg, **changes)


def reference() -> list[tuple[str, str, Any, str]]:
    """(key, env variable, default, doc) for every key: the README's config table."""
    rows: list[tuple[str, str, Any, str]] = []
    for section, cls in _SECTIONS.items():
        inst = cls()
        for f in fields(cls):
            rows.append((f"{section}.{f.name}", f"{ENV_PREFIX}{section.upper()}_{f.name.upper()}",
                         getattr(inst, f.name), f.metadata["doc"]))
    return rows
