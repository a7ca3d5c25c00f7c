"""The process that runs inside a grading sandbox: one kernel, one submission, results on stdout.

This file is executed by path (``python -I _sandbox_worker.py SETUP_JSON``), never imported by
the package: it must start fast, so it imports only the standard library and ``zmq`` (it speaks
the Jupyter protocol itself; ``nbformat`` alone costs about two seconds to import here, and
``jupyter_client`` 0.3 s, once per sandbox would add up).

What it does, in order:

1. *Prelude* (from the setup JSON on the command line): in the ``unshare`` fallback, hide the
   paths it is told to hide by mounting empty tmpfs over them; apply the resource limits (CPU
   seconds, address space, processes, file size); drop to the unprivileged uid/gid when started
   as root; forbid new privileges; make itself non-dumpable so the student's kernel (same uid)
   can neither ptrace it nor open its file descriptors through ``/proc``.
2. Start an IPython kernel at once (before the job arrives, so a pool can pre-warm sandboxes),
   talking over ``ipc`` sockets so no network interface is needed.
3. Read one job from stdin (a JSON line): the code cells to run and the per-cell timeout. Copy
   the submission's files from the read-only input folder into the writable work folder.
4. Execute the cells one by one; after each cell write one JSON line with its outputs and the
   kernel's reply status. A cell that exceeds the timeout is interrupted (the student's code
   gets ``KeyboardInterrupt``); if the kernel does not come back, the run stops and the parent
   marks the remaining cells as not run. ``input()`` raises at once: stdin is not offered.

Results go to the original stdout only. The kernel's own stdout/stderr go to a log file in the
sandbox, so nothing the student's code prints can be mistaken for a result line.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
_KEEP_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
               "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")

_result_stream: Any = None


def emit(event: str, **fields: Any) -> None:
    """Write one result line to the parent."""
    _result_stream.write(json.dumps({"event": event, **fields}) + "\n")
    _result_stream.flush()


# ---------------------------------------------------------------------------------- prelude
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _mount_tmpfs(path: str, options: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
    libc = _libc()
    if libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, options.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {path}: {os.strerror(err)}")


def _bind_readonly(fd: int, target: str) -> None:
    libc = _libc()
    os.makedirs(target, exist_ok=True)
    source = f"/proc/self/fd/{fd}".encode()
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    if libc.mount(source, target.encode(), None, MS_BIND | MS_REC, None) != 0 or libc.mount(
            b"none", target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bind {target}: {os.strerror(err)}")


def _bind_node(fd: int, target: str) -> None:
    """Bind a host device node (held open as ``fd``) onto an empty file in the private /dev."""
    with open(target, "w"):
        pass
    if _libc().mount(f"/proc/self/fd/{fd}".encode(), target.encode(), None, MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bind {target}: {os.strerror(err)}")


def _private_dev(node_fds: dict[str, int], shm_bytes: int) -> None:
    """A /dev of the sandbox's own: the harmless device nodes, and a private /dev/shm."""
    _mount_tmpfs("/dev", "mode=0755,size=64k", flags=MS_NOSUID)
    for name, fd in node_fds.items():
        _bind_node(fd, f"/dev/{name}")
        os.close(fd)
    os.mkdir("/dev/shm")
    _mount_tmpfs("/dev/shm", f"mode=1777,size={shm_bytes}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/dev/{name}")


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _everything_read_only(writable: tuple[str, ...]) -> None:
    """Remount every mount read-only except the sandbox's own ``writable`` ones and /proc."""
    libc = _libc()
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        entries = [line.split() for line in f]
    for fields in entries:
        target = _unescape(fields[4])
        if target in writable or any(target.startswith(w + "/") for w in ("/dev", "/proc")) or target == "/proc":
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in fields[5].split(","):
            flags |= _KEEP_FLAGS.get(option, 0)
        if libc.mount(None, target.encode(), None, flags, None) != 0:
            err = ctypes.get_errno()
            if err not in (errno.ENOENT, errno.EINVAL, errno.ENOTDIR):  # shadowed by a cover: unreachable
                raise OSError(err, f"remount {target} read-only: {os.strerror(err)}")


def _loopback_up() -> None:
    """Bring up ``lo`` in a fresh network namespace (the kernel needs it even with ipc sockets)."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, siocgifflags, request)[:18])[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH", b"lo", flags | iff_up))


def _prelude(setup: dict[str, Any]) -> None:
    libc = _libc()
    if setup.get("loopback_up"):
        _loopback_up()
    mounts = setup.get("mounts")
    if mounts is not None:
        # the unshare fallback: root in private namespaces. Cover what must not be seen with empty
        # tmpfs, then give back read-only what the sandbox needs from under those covers.
        fds = [(os.open(src, os.O_RDONLY | os.O_DIRECTORY), dest) for src, dest in mounts["restore"]]
        nodes = {name: os.open(f"/dev/{name}", os.O_PATH) for name in _DEV_NODES if os.path.exists(f"/dev/{name}")}
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "could not make the mount namespace private")
        for path in mounts["cover"]:
            if os.path.isdir(path):
                _mount_tmpfs(path, "mode=0755,size=64k")
        _mount_tmpfs("/tmp", f"mode=1777,size={mounts['tmpfs_bytes']}")
        _private_dev(nodes, mounts["tmpfs_bytes"])
        for fd, dest in fds:
            _bind_readonly(fd, dest)
            os.close(fd)
        _everything_read_only(("/tmp", "/dev", "/dev/shm"))
    limits = setup.get("limits", {})
    for name, value in limits.items():
        which = getattr(resource, name)
        soft, hard = (value, value) if not isinstance(value, list) else value
        resource.setrlimit(which, (soft, hard))
    if setup.get("uid") is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(int(setup["gid"]))
        os.setuid(int(setup["uid"]))
        if os.getuid() == 0 or os.geteuid() == 0:
            raise RuntimeError("could not drop root privileges")
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# ---------------------------------------------------------------------------------- kernel
class MiniClient:
    """Just enough of the Jupyter messaging protocol (5.3) over zmq to run cells.

    ``jupyter_client`` would do, but importing it costs about 0.3 s of CPU in every sandbox (the
    kernel pays it once more on its side); this needs only ``zmq``.
    """

    DELIMITER = b"<IDS|MSG>"

    def __init__(self, ip_prefix: str, key: bytes) -> None:
        import zmq

        self._zmq = zmq
        self._context = zmq.Context()
        self._key = key
        self._session = os.urandom(16).hex()
        self._shell = self._context.socket(zmq.DEALER)
        self._iopub = self._context.socket(zmq.SUB)
        self._iopub.setsockopt(zmq.SUBSCRIBE, b"")
        for sock, port in ((self._shell, 1), (self._iopub, 2)):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(f"ipc://{ip_prefix}-{port}")

    def _sign(self, parts: list[bytes]) -> bytes:
        import hashlib
        import hmac

        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.hexdigest().encode()

    def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        import datetime

        msg_id = os.urandom(16).hex()
        header = {"msg_id": msg_id, "session": self._session, "username": "grader", "msg_type": msg_type,
                  "version": "5.3", "date": datetime.datetime.now(datetime.timezone.utc).isoformat()}
        parts = [json.dumps(header).encode(), b"{}", b"{}", json.dumps(content).encode()]
        self._shell.send_multipart([self.DELIMITER, self._sign(parts), *parts])
        return msg_id

    def _receive(self, sock: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(max(1, int(remaining * 1000))):
                raise queue.Empty
            frames = sock.recv_multipart()
            try:
                at = frames.index(self.DELIMITER)
                signature, header, parent, metadata, content = frames[at + 1:at + 6]
            except ValueError:
                continue
            if not self._sign([header, parent, metadata, content]) == signature:
                continue  # not from our kernel
            head = json.loads(header)
            return {"header": head, "msg_type": head.get("msg_type"), "parent_header": json.loads(parent),
                    "metadata": json.loads(metadata), "content": json.loads(content)}

    def kernel_info(self) -> str:
        return self._send("kernel_info_request", {})

    def execute(self, code: str, silent: bool = False, store_history: bool = True, allow_stdin: bool = False,
                stop_on_error: bool = False) -> str:
        return self._send("execute_request", {"code": code, "silent": silent, "store_history": store_history,
                                              "user_expressions": {}, "allow_stdin": allow_stdin,
                                              "stop_on_error": stop_on_error})

    def get_shell_msg(self, timeout: float) -> dict[str, Any]:
        return self._receive(self._shell, timeout)

    def get_iopub_msg(self, timeout: float) -> dict[str, Any]:
        return self._receive(self._iopub, timeout)

    def close(self) -> None:
        self._context.destroy(linger=0)


class Kernel:
    """One IPython kernel process and a client on ipc sockets (no network interface needed)."""

    def __init__(self, workdir: str, runtime_dir: str, env: dict[str, str], extra_args: list[str]) -> None:
        os.makedirs(runtime_dir, exist_ok=True)
        ip_prefix = os.path.join(runtime_dir, "kernel-ipc")
        key = os.urandom(16).hex()
        connection = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5,
                      "ip": ip_prefix, "key": key, "transport": "ipc", "signature_scheme": "hmac-sha256",
                      "kernel_name": ""}
        connection_file = os.path.join(runtime_dir, "kernel.json")
        with open(os.open(connection_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(connection, f)
        self.log_path = os.path.join(runtime_dir, "kernel.log")
        log = open(self.log_path, "wb")
        prctl = _libc().prctl

        def die_with_worker() -> None:  # the kernel must not outlive this process
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

        self.process = subprocess.Popen(
            [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file,
             "--HistoryManager.hist_file=:memory:", *extra_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env,
            start_new_session=True, preexec_fn=die_with_worker)
        log.close()
        self.client = MiniClient(ip_prefix, key.encode())

    def wait_ready(self, timeout: float) -> None:
        # Ask until any kernel_info reply arrives: a request sent before the kernel listened is
        # lost or answered late, and later replies are told apart by msg_id anyway.
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the kernel exited at start: {self.log_tail()}")
            self.client.kernel_info()
            try:
                reply = self.client.get_shell_msg(timeout=min(1.0, max(0.05, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the kernel did not start in {timeout:g} s: {self.log_tail()}") from None
                continue
            if reply.get("msg_type") == "kernel_info_reply":
                break
        # iopub is subscribed once its messages arrive (each kernel_info request publishes a status)
        seen_iopub = False
        while time.monotonic() < deadline:
            try:
                self.client.get_iopub_msg(timeout=0.05 if seen_iopub else 0.5)
                seen_iopub = True
            except queue.Empty:
                if seen_iopub:
                    break
                self.client.kernel_info()
        if not seen_iopub:
            raise RuntimeError(f"the kernel's output channel did not connect in {timeout:g} s")

    def log_tail(self, chars: int = 600) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-chars:].strip() or "(no kernel output)"
        except OSError:
            return "(no kernel log)"

    def interrupt(self) -> None:
        try:
            os.kill(self.process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.kill()
        self.process.wait()
        self.client.close()


class OutputBudget:
    """Characters of output a whole notebook may still produce (shared by its cells)."""

    def __init__(self, max_chars: int) -> None:
        self.left = max_chars
        self.max_chars = max_chars


class CellRun:
    """Collects the outputs of one execute request the way a notebook client records them.

    Every kind of output counts against both the cell's cap and the notebook's: once either is
    reached, one note says so and the rest of the cell's output is dropped (errors included, beyond
    a short stand-in that keeps the error's name).
    """

    def __init__(self, max_chars: int, budget: OutputBudget | None = None, only_mime: str | None = None) -> None:
        self.only_mime = only_mime  # keep nothing but display outputs of this type (a probe run)
        self.outputs: list[dict[str, Any]] = []
        self.max_chars = max_chars
        self.budget = budget or OutputBudget(max_chars)
        self.chars = 0
        self.truncated = False
        self.clear_pending = False
        self.execution_count: int | None = None

    def _room(self, size: int) -> bool:
        if self.truncated:
            return False
        if self.chars + size > self.max_chars or size > self.budget.left:
            self.truncated = True
            limit = self.max_chars if self.chars + size > self.max_chars else self.budget.max_chars
            scope = "in this cell" if self.chars + size > self.max_chars else "in this notebook"
            self.outputs.append({"output_type": "stream", "name": "stdout",
                                 "text": f"\n[output truncated: more than {limit} characters {scope}]\n"})
            return False
        self.chars += size
        self.budget.left -= size
        return True

    def add(self, msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if self.only_mime is not None:
            data = content.get("data")
            if kind != "display_data" or not isinstance(data, dict) or self.only_mime not in data:
                if kind == "execute_input":
                    self.execution_count = content.get("execution_count")
                return
        if kind in ("stream", "display_data", "execute_result", "error") and self.clear_pending:
            self.outputs.clear()
            self.clear_pending = False
        if kind == "stream":
            text = str(content.get("text", ""))
            name = "stderr" if content.get("name") == "stderr" else "stdout"
            if not self._room(len(text)):
                return
            last = self.outputs[-1] if self.outputs else None
            if last and last["output_type"] == "stream" and last["name"] == name:
                last["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": name, "text": text})
        elif kind in ("display_data", "execute_result"):
            data = content.get("data", {})
            metadata = content.get("metadata", {})
            if not isinstance(data, dict) or not isinstance(metadata, dict):
                return
            if not self._room(len(json.dumps(data)) + len(json.dumps(metadata))):
                return
            output = {"output_type": kind, "data": data, "metadata": metadata}
            if kind == "execute_result":
                output["execution_count"] = content.get("execution_count")
            self.outputs.append(output)
        elif kind == "error":
            ename = str(content.get("ename", ""))[:200]
            evalue = str(content.get("evalue", ""))[:4000]
            traceback = [str(line)[:4000] for line in list(content.get("traceback") or [])[:200]]
            if not self._room(len(ename) + len(evalue) + sum(map(len, traceback))):
                if any(o["output_type"] == "error" for o in self.outputs):
                    return
                evalue, traceback = evalue[:200], [f"{ename}: {evalue[:200]}"]
            self.outputs.append({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback})
        elif kind == "clear_output":
            if content.get("wait"):
                self.clear_pending = True
            else:
                self.outputs.clear()
        elif kind == "execute_input":
            self.execution_count = content.get("execution_count")


def run_cell(kernel: Kernel, source: str, timeout: float, grace: float, max_chars: int,
             budget: OutputBudget | None = None, store_history: bool = True,
             only_mime: str | None = None) -> dict[str, Any]:
    """Execute one code cell; returns its record (outputs, execution_count, reply status)."""
    client = kernel.client
    msg_id = client.execute(source, silent=False, store_history=store_history, allow_stdin=False,
                            stop_on_error=False)
    run = CellRun(max_chars, budget, only_mime)
    record: dict[str, Any] = {"status": "ok"}
    deadline = time.monotonic() + timeout
    interrupted_at: float | None = None
    idle = False
    while not idle:
        now = time.monotonic()
        if interrupted_at is None and now > deadline:
            kernel.interrupt()
            interrupted_at = now
            record["timed_out"] = True
        if interrupted_at is not None and now > interrupted_at + grace:
            record["status"] = "unresponsive"
            break
        if kernel.process.poll() is not None:
            record["status"] = "dead"
            break
        try:
            msg = client.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
            idle = True
        else:
            run.add(msg)
    if idle:
        reply_deadline = time.monotonic() + grace
        while time.monotonic() < reply_deadline:
            try:
                reply = client.get_shell_msg(timeout=max(0.05, reply_deadline - time.monotonic()))
            except queue.Empty:
                break
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            content = reply["content"]
            record["status"] = content.get("status", "error")
            if record["status"] == "error":
                record["ename"] = str(content.get("ename", ""))[:200]
                record["evalue"] = str(content.get("evalue", ""))[:4000]
                record["traceback"] = [str(x)[:4000] for x in content.get("traceback", [])[:200]]
            if run.execution_count is None:
                run.execution_count = content.get("execution_count")
            break
        else:
            record["status"] = "no-reply"
    record["outputs"] = run.outputs
    record["execution_count"] = run.execution_count
    return record


def stop(kernel: Kernel, record: dict[str, Any], index: int | None) -> None:
    """Report that the kernel is gone or stuck; nothing after this point runs."""
    code = kernel.process.poll()
    reason = ("the kernel stopped responding after a timeout interrupt" if record["status"] == "unresponsive"
              else f"the kernel died (exit code {code})")
    emit("stopped", reason=reason, index=index)


def copy_inputs(src: str, dest: str) -> None:
    """Copy the submission's files (read-only input) into the writable work folder."""
    if not os.path.isdir(src):
        return
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dest, name)
        if os.path.isdir(s) and not os.path.islink(s):
            shutil.copytree(s, d, symlinks=True, dirs_exist_ok=True)
        elif not os.path.islink(s):
            shutil.copy2(s, d)


def main() -> int:
    global _result_stream
    setup = json.loads(sys.argv[1])
    # results leave through a private copy of stdout; fd 1 of this process goes to a log
    _result_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    try:
        _prelude(setup)
    except Exception as exc:  # report, never run student code unconfined
        emit("failed", reason=f"sandbox setup failed: {exc}")
        return 3
    for folder in (setup["runtime_dir"], setup["home"], setup["workdir"]):
        os.makedirs(folder, exist_ok=True)
    log_fd = os.open(os.path.join(setup["runtime_dir"], "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log_fd, 1)  # stray prints of libraries must not mix with result lines
    os.close(log_fd)
    seed = setup.get("mpl_seed")
    mpl_dir = setup["kernel_env"].get("MPLCONFIGDIR")
    if seed and mpl_dir and os.path.isdir(seed):  # start from the grader's matplotlib font cache
        os.makedirs(mpl_dir, exist_ok=True)
        for name in os.listdir(seed):
            shutil.copyfile(os.path.join(seed, name), os.path.join(mpl_dir, name))
    started = time.monotonic()
    try:
        kernel = Kernel(setup["workdir"], setup["runtime_dir"], setup["kernel_env"], setup.get("kernel_args", []))
        kernel.wait_ready(setup.get("startup_timeout", 60))
    except Exception as exc:
        emit("failed", reason=f"the kernel did not start: {exc}")
        return 4
    preload = setup.get("preload") or []
    if preload:  # the course's heavy imports, done while the previous submission still runs
        code = ("import importlib\nfor _name in %r:\n    try:\n        importlib.import_module(_name)\n"
                "    except Exception:\n        pass\ndel _name, importlib" % (list(preload),))
        run_cell(kernel, code, setup.get("startup_timeout", 60), 5.0, 0, store_history=False, only_mime="")
    emit("ready", kernel_start_s=round(time.monotonic() - started, 3))

    line = sys.stdin.readline()
    if not line.strip():
        kernel.kill()
        return 0
    job = json.loads(line)
    emit("started")
    try:
        copy_inputs(setup["inputdir"], setup["workdir"])
    except OSError as exc:  # for example more data than the work folder holds: the submission's doing
        emit("stopped", reason=f"could not copy the submission's files into the sandbox: {exc}")
        kernel.kill()
        return 0
    grace = job.get("interrupt_grace", 5.0)
    max_chars = job.get("max_output_chars", 1_000_000)
    budget = OutputBudget(job.get("max_notebook_chars", 5_000_000))
    stopped = False
    for cell in job["cells"]:
        record = run_cell(kernel, cell["source"], job["timeout"], grace, max_chars, budget)
        emit("cell", index=cell["index"], **record)
        if record["status"] not in ("unresponsive", "dead") and cell.get("after"):
            # grading bookkeeping (a snapshot of the names at a tests cell): not the student's history
            record = run_cell(kernel, cell["after"], job["timeout"], grace, 0, store_history=False, only_mime="")
        if record["status"] in ("unresponsive", "dead"):
            stop(kernel, record, cell["index"])
            stopped = True
            break
    if not stopped:
        # the hidden probes run only now, after every cell of the submission; only the observations
        # they publish leave the sandbox, whatever else the student's code prints meanwhile
        mime = job.get("observations_mime", "")
        for driver in job.get("drivers", []):
            record = run_cell(kernel, driver["code"], job["timeout"], grace, job.get("max_observation_chars", 2_000_000),
                              store_history=False, only_mime=mime)
            payload = next((o["data"][mime] for o in record["outputs"]
                            if o["output_type"] == "display_data" and mime in o.get("data", {})), None)
            emit("driver", id=driver["id"], status=record["status"], timed_out=bool(record.get("timed_out")),
                 payload=payload if isinstance(payload, str) else None)
            if record["status"] in ("unresponsive", "dead"):
                stop(kernel, record, None)
                stopped = True
                break
    if not stopped:
        emit("done")
    kernel.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
