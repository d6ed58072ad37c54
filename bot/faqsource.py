"""The FAQ matcher behind the bot, rebuilt when FAQs or OPDs change in the database."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

from faq.matcher import FaqMatcher, MatchSettings
from faq.model import FaqEntry, OpdProfile
from routing.ports import UnitOfWork

log = logging.getLogger(__name__)


class FaqSource:
    """Caches a FaqMatcher; an import by the CLI in another process is seen within seconds."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], settings: MatchSettings,
                 recheck_seconds: float = 5.0) -> None:
        self._uow = uow_factory
        self._settings = settings
        self._recheck = recheck_seconds
        self._lock = threading.Lock()
        self._matcher: FaqMatcher | None = None
        self._entries: dict[str, FaqEntry] = {}
        self._opd_names: dict[str, str] = {}
        self._stamp: str | None = None
        self._checked = 0.0

    def _load(self, uow: UnitOfWork | None) -> None:
        if uow is None:
            with self._uow() as own:
                self._load(own)
            return
        stamp = uow.faqs.stamp()
        if stamp == self._stamp and self._matcher is not None:
            return
        started = time.perf_counter()
        entries = uow.faqs.all()
        every_opd = uow.opds.all(include_inactive=True)
        opds = [OpdProfile(o.code, o.name, o.description, o.keywords)
                for o in every_opd if not o.is_ppid_utama and o.active]
        self._matcher = FaqMatcher.build(entries, opds, self._settings)
        # The index is large and long-lived: keep it out of the cyclic GC's generations so
        # collections stay cheap while the bot handles messages.
        gc.collect()
        gc.freeze()
        self._entries = {e.id: e for e in entries}
        self._opd_names = {o.code: o.name for o in every_opd}
        log.info("FAQ index %s: %d entries, %d OPDs, %.2f s",
                 "rebuilt" if self._stamp else "built", len(entries), len(opds),
                 time.perf_counter() - started)
        self._stamp = stamp

    def matcher(self, uow: UnitOfWork | None = None) -> FaqMatcher:
        """The current matcher (checking the database at most every few seconds).

        Pass the caller's unit of work when inside one: a second connection would wait for
        the first one's write lock on SQLite.
        """
        now = time.monotonic()
        if self._matcher is None or now - self._checked >= self._recheck:
            with self._lock:
                if self._matcher is None or now - self._checked >= self._recheck:
                    self._load(uow)
                    self._checked = now
        assert self._matcher is not None
        return self._matcher

    def entry(self, faq_id: str, uow: UnitOfWork | None = None) -> FaqEntry | None:
        """An FAQ entry by id, from the same snapshot as the matcher."""
        self.matcher(uow)
        return self._entries.get(faq_id)

    def opd_name(self, code: str, uow: UnitOfWork | None = None) -> str:
        """An OPD's name from the same snapshot (the code when the OPD is unknown)."""
        self.matcher(uow)
        return self._opd_names.get(code.upper(), code)

    @property
    def size(self) -> int:
        """How many FAQ entries the current matcher knows."""
        self.matcher()
        return len(self._entries)

    def invalidate(self) -> None:
        """Force a reload on next use (after an import in this process)."""
        self._checked = 0.0
        self._stamp = None
