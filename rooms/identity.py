"""Who is speaking: the identity a session resolved to, as rooms see it."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("guest", "peer", "supporter", "moderator", "admin")
AGE_BANDS = ("13-17", "18+")
STAFF_ROLES = frozenset({"moderator", "admin"})


@dataclass(frozen=True, slots=True)
class Identity:
    """A user as the hub needs it: stable id, public handle, role and age band.

    `user_id` never leaves the server; clients only ever see `handle`.
    """

    user_id: str
    handle: str
    role: str
    age_band: str | None = None
    badges: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if self.age_band is not None and self.age_band not in AGE_BANDS:
            raise ValueError(f"unknown age band {self.age_band!r}")

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"

    def public(self) -> dict[str, object]:
        """The `from` object of a message: never the user id."""
        return {"handle": self.handle, "role": self.role, "badges": list(self.shown_badges)}

    @property
    def shown_badges(self) -> tuple[str, ...]:
        extra = ("supporter",) if self.role == "supporter" and "supporter" not in self.badges \
            else ()
        staff = ("moderator",) if self.is_staff and "moderator" not in self.badges else ()
        return (*self.badges, *extra, *staff)

    def user_dict(self) -> dict[str, object]:
        """The `user` object of `hello` and the HTTP API."""
        out: dict[str, object] = {"handle": self.handle, "role": self.role,
                                  "badges": list(self.shown_badges)}
        if self.age_band is not None:
            out["age_band"] = self.age_band
        return out
