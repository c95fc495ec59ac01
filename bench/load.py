"""Load to hold (reliability.md): independent gradio_client processes at queue size + 10 for a while.

    .venv/bin/python bench/load.py [--seconds 120] [--queue 4]

Starts `python app.py --model tiny-random` with a small queue and a rating session, then runs queue + 10 client
processes that keep asking the image endpoint, while this process votes in the rating session. Reports how the
requests ended (answered / "queue full" / other errors), vote latency while the GPU queue is saturated, the
server's memory over the run and the size of its work folder.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets" / "examples" / "discs.png"


def client(url: str, until: float, results) -> None:
    from gradio_client import Client, handle_file

    c = Client(url, verbose=False)
    while time.time() < until:
        try:
            c.predict(handle_file(str(IMAGE)), "Point to the red discs.", {"max_new_tokens": 48}, api_name="/image")
            results.put("answered")
        except Exception as err:
            text = str(err).lower()
            results.put("queue full" if "queue" in text and "full" in text else f"error: {str(err)[:80]}")
            time.sleep(0.5)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--queue", type=int, default=4)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="molmo2-load-"))
    env = {**os.environ, "MOLMO2_CACHE": str(tmp / "cache"), "MOLMO2_WORK_DIR": str(tmp / "work"),
           "MOLMO2_QUEUE_SIZE": str(args.queue), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    session = _session(tmp)
    subprocess.run([sys.executable, "app.py", "rate", "prepare", str(session), "--device", "cpu"], cwd=ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    port = 7900 + os.getpid() % 90
    server = subprocess.Popen([sys.executable, "app.py", "--model", "tiny-random", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=(tmp / "server.log").open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait(url)
        time.sleep(3)  # the model loads in the background
        results = multiprocessing.Queue()
        until = time.time() + args.seconds
        workers = [multiprocessing.Process(target=client, args=(url, until, results)) for _ in range(args.queue + 10)]
        for w in workers:
            w.start()
        votes, memory, work = _vote_and_sample(url, until, server.pid, tmp / "work")
        for w in workers:
            w.join(max(0.0, until + 60 - time.time()))
            if w.is_alive():  # still waiting for its last answer: stop it, it is counted as not finished
                w.terminate()
        outcomes: dict[str, int] = {}
        while not results.empty():
            outcome = results.get()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        print(f"{args.queue + 10} clients for {args.seconds:.0f} s against a queue of {args.queue}:")
        print("  requests:", json.dumps(outcomes))
        if votes:
            print(f"  votes while saturated: {len(votes)}, median {statistics.median(votes) * 1e3:.0f} ms, "
                  f"max {max(votes) * 1e3:.0f} ms")  # fmt: skip
        trace = " ".join(f"{m:.0f}" for m in memory[:: max(1, len(memory) // 12)])
        print(f"  server memory MB: start {memory[0]:.0f}, end {memory[-1]:.0f} (over the run: {trace})")
        print(f"  work folder MB: max {max(work):.1f}, end {work[-1]:.1f}")
        print(f"  server still answers: {urllib.request.urlopen(url, timeout=10).status == 200}")
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def _vote_and_sample(url: str, until: float, pid: int, work: Path):
    """Vote every 2 s the way the page does (these events are not queued: POST /gradio_api/api/<name>/ with the
    page's session), timing the vote; sample the server's memory and work folder."""
    votes, memory, folder = [], [], []
    while time.time() < until:
        memory.append(rss_mb(pid))
        folder.append(folder_mb(work))
        try:
            _post(url, "next_battle", ["load", "rater"])
            start = time.time()
            _post(url, "vote_tie", [None, [], [], ""])
            votes.append(time.time() - start)
        except OSError as err:
            print("vote failed:", str(err)[:100])
        time.sleep(2)
    return votes, memory, folder


def _post(url: str, name: str, data: list) -> dict:
    body = json.dumps({"data": data, "session_hash": "load-rater"}).encode()
    request = urllib.request.Request(f"{url}gradio_api/api/{name}/", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _session(tmp: Path) -> Path:
    data = tmp / "session" / "media"
    data.mkdir(parents=True)
    shutil.copy(IMAGE, data / "discs.png")
    inputs = [{"id": f"q{k}", "task": "image", "prompt": f"Question {k}", "media": ["discs.png"]} for k in range(60)]
    (tmp / "session" / "inputs.jsonl").write_text("\n".join(json.dumps(i) for i in inputs))
    systems = [{"id": name, "name": name.upper(), "model": "tiny-random", "settings": {"max_new_tokens": tokens}}
               for name, tokens in (("a", 8), ("b", 12))]  # fmt: skip
    spec = {"id": "load", "title": "Load", "data_dir": "media", "inputs": "inputs.jsonl", "systems": systems}
    (tmp / "session" / "session.json").write_text(json.dumps(spec))
    return tmp / "session" / "session.json"


def _wait(url: str) -> None:
    for _ in range(240):
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


if __name__ == "__main__":
    main()
