"""Many LA centres on one sandbox host, as a real LA host serves many centres: each centre is a
sandbox app of its own (:func:`~.app.create_app`: its own database, learners and sessions),
mounted at ``/centre-01`` ... ``/centre-NN``, so that centre 3's LA base URL is
``http://HOST:PORT/centre-03``. A fleet of labridge workers, one per centre, then meets a limit
of the host as a whole (``labridge sandbox serve --centres N``).

``GET /_sandbox/stats`` at the host's root answers the host's figures (:mod:`.traffic`: SOAP
calls of every centre, the most in flight at once, the most started within a second) and each
centre's own stats; a path outside every centre is a 404."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from .app import STATS_PATH, create_app
from .traffic import Traffic, TrafficMiddleware, soap_paths


def centre_name(index: int, centres: int) -> str:
    """``centre-03``: centre ``index`` (from 1) of ``centres``, two digits, three from 100."""
    width = 3 if centres >= 100 else 2
    return f"centre-{index:0{width}d}"


def centre_file(db_file: str | Path, index: int, centres: int) -> Path:
    """The database file of centre ``index``, beside ``db_file``:
    ``sandbox.db`` -> ``sandbox-centre-03.db``."""
    path = Path(db_file)
    return path.with_name(f"{path.stem}-{centre_name(index, centres)}{path.suffix}")


def create_centres_app(
    centres: int,
    *,
    database_urls: Sequence[str] | None = None,
    fault_seed: int | None = None,
    **kwargs: Any,
) -> Starlette:
    """A host of ``centres`` independent sandbox apps, each made by :func:`~.app.create_app`
    with ``kwargs`` (the same web-service user and password, faults, dialect...), mounted at
    ``/centre-01`` ... ; centre ``i``'s random faults are seeded ``fault_seed + i - 1`` when a
    seed is given, and its database is ``database_urls[i - 1]`` (default: its own in memory).

    ``app.state.centres`` holds the centres' apps in order (each with its ``state.db``);
    ``app.state.traffic`` the host's :class:`~.traffic.Traffic`."""
    if centres < 1:
        raise ValueError(f"a host of centres needs at least one centre, not {centres}")
    if "db" in kwargs:
        raise ValueError("create_centres_app: each centre has its own database; pass database_urls")
    if database_urls is not None and len(database_urls) != centres:
        raise ValueError(f"{len(database_urls)} database URLs for {centres} centres")
    apps = []
    for i in range(centres):
        if database_urls is not None:
            kwargs["database_url"] = database_urls[i]
        seed = None if fault_seed is None else fault_seed + i
        apps.append(create_app(fault_seed=seed, **kwargs))
    prefixes = ["/" + centre_name(i, centres) for i in range(1, centres + 1)]
    traffic = Traffic(soap_paths(prefixes))

    async def stats(request: Request) -> Response:
        per_centre = [await centre.state.sandbox.figures() for centre in apps]
        return JSONResponse({"centres": centres, **traffic.figures(), "per_centre": per_centre})

    routes: list[BaseRoute] = [Route(STATS_PATH, stats, methods=["GET"])]
    routes += [Mount(prefix, app=centre) for prefix, centre in zip(prefixes, apps, strict=True)]
    host = Starlette(routes=routes, middleware=[Middleware(TrafficMiddleware, traffic=traffic)])
    state: Any = host.state
    state.centres = apps
    state.traffic = traffic
    return host
