"""Unit of work: one transaction; rolls back unless `commit()` was called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.errors import ConcurrentUpdate
from app.repositories import EventRepository, ProjectRepository


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], *, write: bool = True) -> None:
        self._factory = session_factory
        self._write = write

    def __enter__(self) -> "UnitOfWork":
        self.session = self._factory()
        if not self._write:
            self.session.connection(execution_options={"regieflow_write": False})
        self.projects = ProjectRepository(self.session)
        self.events = EventRepository(self.session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as err:
            raise ConcurrentUpdate("Le projet a été modifié par une autre requête : rechargez-le puis réessayez.") from err

    def commit(self) -> None:
        try:
            self.session.commit()
        except (StaleDataError, IntegrityError) as err:
            self.session.rollback()
            if isinstance(err, IntegrityError) and "events" not in str(err.orig):
                raise
            raise ConcurrentUpdate("Le projet a été modifié par une autre requête : rechargez-le puis réessayez.") from err
