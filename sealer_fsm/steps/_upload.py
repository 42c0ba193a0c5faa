"""Where an unsealed piece goes: the destination URLs of the reference's unseal plan.

* `file:///path`: a copy on this host;
* `store://name/path`: a copy into the attached (writable) store `name`, at `path` inside it, by the transfer
  processor after the manager confirmed the store (StoreBasicInfo), as the reference does;
* `http://` and `https://`: an HTTP PUT of the file (aiohttp); a reply that is not 2xx, or a network failure,
  is Temporary (retried after `recover_interval`), as in the reference.

Any other scheme is Permanent. Copies go through a temporary name, so a destination holds the whole piece or
what it held before. Messages show a URL without its password and query, which may carry credentials.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

import aiohttp

from sealer_fsm.processors.tasks import transfer_route
from sealer_fsm.runtime import Permanent, StepContext, Temporary
from sealer_fsm.steps._common import call, copy_file_atomically, manager

_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300)


def shown(dest: str) -> str:
    """The URL as messages show it: no password, no query."""
    url = urlsplit(dest)
    host = url.hostname or ""
    if url.port is not None:
        host = f"{host}:{url.port}"
    if url.username:
        host = f"{url.username}@{host}"
    return url._replace(netloc=host, query="", fragment="").geturl()


async def upload(ctx: StepContext, source: Path, dest: str) -> None:
    """Put the file `source` at `dest`; a destination this step cannot serve is Permanent."""
    url = urlsplit(dest)
    if url.scheme == "file":
        await ctx.run_blocking(copy_file_atomically, source, _file_target(url, dest))
    elif url.scheme == "store":
        await _transfer(ctx, source, url.netloc, _store_target(ctx, url, dest))
    elif url.scheme in ("http", "https"):
        await _put(source, dest)
    else:
        raise Permanent(
            f"unseal destination {shown(dest)}: unsupported scheme {url.scheme!r} (file, store, http and https are)"
        )


def _file_target(url: SplitResult, dest: str) -> Path:
    path = Path(unquote(url.path))
    if url.netloc not in ("", "localhost") or not path.is_absolute():
        raise Permanent(f"unseal destination {shown(dest)}: a file URL names an absolute path on this host")
    return path


def _store_target(ctx: StepContext, url: SplitResult, dest: str) -> Path:
    """The path in the attached store, which must be writable and must contain it."""
    name = url.netloc
    if name in ctx.readonly_stores:
        raise Permanent(f"unseal destination {shown(dest)}: store {name!r} is read-only on this worker")
    if name not in ctx.stores:
        attached = ", ".join(sorted(ctx.stores)) or "none"
        raise Permanent(f"unseal destination {shown(dest)}: no writable store {name!r} is attached ({attached})")
    root = ctx.stores[name].resolve()
    target = (root / unquote(url.path).lstrip("/")).resolve()
    if target == root or not target.is_relative_to(root):
        raise Permanent(f"unseal destination {shown(dest)}: the path must name a file inside store {name!r}")
    return target


async def _transfer(ctx: StepContext, source: Path, name: str, target: Path) -> None:
    if await call("StoreBasicInfo", manager(ctx).store_info(name)) is None:
        raise Permanent(f"the sector manager does not know store {name!r}, the unseal destination")
    task = {"stores": {name: {"name": name, "meta": None}}, "routes": [transfer_route(source, target, name)]}
    await ctx.processors.run("transfer", task)


async def _put(source: Path, dest: str) -> None:
    try:
        async with aiohttp.ClientSession(timeout=_HTTP_TIMEOUT) as session:
            with source.open("rb") as body:
                async with session.put(dest, data=body) as response:
                    if not 200 <= response.status < 300:
                        detail = (await response.text(errors="replace"))[:200].replace("\n", " ")
                        raise Temporary(
                            f"upload of {source.name} to {shown(dest)}: HTTP {response.status} {response.reason}"
                            + (f": {detail}" if detail else "")
                        )
    except (TimeoutError, aiohttp.ClientError) as error:
        raise Temporary(f"upload of {source.name} to {shown(dest)}: {error or type(error).__name__}") from error
    except ValueError as error:  # a URL aiohttp cannot use (no host, a bad port)
        raise Permanent(f"unseal destination {shown(dest)}: {error}") from error
