"""Who is at the other end of the daemon's Unix socket, and who controls its folder.

Linux only: ``SO_PEERCRED`` gives the pid, uid and gid of the peer as the
kernel recorded them (the daemon's at ``listen``, the client's at
``connect``); a peer cannot forge them. Both sides use them: the CLI trusts
an answer only from a daemon that is itself, root, or the user who alone
controls the socket's folder; the daemon takes commands only from itself,
root and the socket's group, and records the verified user in the history.

Imports only the standard library: the CLI's daemon path stays quick.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

#: Linux >= 4.13; Python's socket module does not name it.
_SO_PEERGROUPS = 59


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int


def peer_of(sock: socket.socket) -> Peer:
    """The kernel's record of the peer; OSError where the system has none."""
    try:
        option = socket.SO_PEERCRED
    except AttributeError:
        raise OSError("this system cannot tell who is on the other end of a socket") from None
    creds = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return Peer(*struct.unpack("3i", creds))


def peer_groups(sock: socket.socket, peer: Peer) -> set[int]:
    """Every group the peer had when it connected (primary and supplementary)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, 1024)
        return {peer.gid, *struct.unpack(f"{len(raw) // 4}I", raw)}
    except OSError:  # over 256 groups or an older kernel: the account's groups now
        try:
            return {peer.gid, *os.getgrouplist(pwd.getpwuid(peer.uid).pw_name, peer.gid)}
        except KeyError:
            return {peer.gid}


def user_label(uid: int) -> str:
    """``uid 1000 alice``: how the history names a local user."""
    try:
        return f"uid {uid} {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


def _writable_by(mode: int) -> str:
    return "everyone" if mode & stat.S_IWOTH else "its group"


def _chain(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """The folder, symlinks resolved, and every folder above it, each with its stat."""
    real = Path(os.path.realpath(folder))
    return [(path, path.stat()) for path in (real, *real.parents)]


def unsafe_folder(folder: Path, uid: int) -> str | None:
    """Why the daemon running as ``uid`` must not put its socket in ``folder``; None if it may.

    The folder must be the daemon's own and writable by it alone: whoever can
    write in it can replace the socket with theirs. Each folder above must be
    root's or the daemon's, and writable by nobody else unless sticky (as
    /tmp): whoever can write in a folder above can rename this one away and
    put their own, socket and all, in its place; the sticky bit forbids
    renaming what one does not own.
    """
    (_, st), *above = _chain(folder)
    if st.st_uid != uid:
        return f"it belongs to {user_label(st.st_uid)}, not to this daemon's user ({user_label(uid)})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"it is writable by {_writable_by(st.st_mode)} (mode {st.st_mode & 0o7777:04o})"
    for path, st in above:
        if st.st_uid not in (0, uid):
            return f"{path} above it belongs to {user_label(st.st_uid)}, who could replace it"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            return (f"{path} above it is writable by {_writable_by(st.st_mode)} "
                    f"(mode {st.st_mode & 0o7777:04o}), who could replace it")
    return None


def folder_owner(folder: Path) -> int | None:
    """The one user who, with root, alone could have put ``folder`` where it is; None if others
    could have (a folder writable by others anywhere on the way, sticky or not: whoever
    came first owns a folder made in /tmp).

    The systemd unit's /run/gasstove is the daemon user's, in root's /run: only
    root made it and gave it to that user, so the CLI may trust that user.
    """
    owners: set[int] = set()
    for _, st in _chain(folder):
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        owners.add(st.st_uid)
    owners.discard(0)
    if len(owners) > 1:
        return None
    return owners.pop() if owners else 0


def group_access(folder: Path) -> int | None:
    """The folder's group if it lets its group in and nobody else (``g+x``, ``o-x``: the
    unit's 0750): the group may then command the stove. None otherwise: a 0755 folder
    says "anyone may look", not "my group may shut the stove off"."""
    st = Path(os.path.realpath(folder)).stat()
    return st.st_gid if st.st_mode & (stat.S_IXGRP | stat.S_IXOTH) == stat.S_IXGRP else None
