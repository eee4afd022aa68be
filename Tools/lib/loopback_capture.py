"""What Tools/capture-fixtures and Tools/demo-capture-check share: a tcpdump capture of loopback
around a run of node processes, and the frame counters those nodes wrote to status.json."""
import json
import os
import signal
import subprocess
import time


class CaptureError(Exception):
    """tcpdump did not start, or lost packets."""


def start(path):
    """Starts tcpdump on lo writing every TCP packet to `path`; returns once it is listening."""
    tcpdump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-B", "65536", "-n", "-w", path, "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    banner = ""
    deadline = time.monotonic() + 10
    while "listening on" not in banner:
        line = tcpdump.stderr.readline()
        if not line or time.monotonic() > deadline:
            tcpdump.kill()
            raise CaptureError(f"tcpdump did not start: {banner + line}".strip())
        banner += line
    return tcpdump


def stop(tcpdump):
    """Stops the capture after the last FINs; raises CaptureError if the kernel dropped packets."""
    time.sleep(0.5)
    tcpdump.send_signal(signal.SIGINT)
    statistics = tcpdump.communicate(timeout=10)[1]
    if "0 packets dropped by kernel" not in statistics:
        raise CaptureError(f"tcpdump dropped packets: {statistics.strip()}")


def node_counters(homes, key_log_name):
    """For the node homes `homes`: their bound p2p and client ports, their key logs joined, and
    their frame counters by message type summed over the nodes (sent, received)."""
    peer_ports, client_ports, keylog, sent, received = [], [], [], {}, {}
    for home in homes:
        with open(os.path.join(home, "ports.json")) as f:
            bound = json.load(f)
        peer_ports += [bound["p2p"]] if bound.get("p2p") else []
        client_ports += [bound["client"]] if bound.get("client") else []
        with open(os.path.join(home, key_log_name)) as f:
            keylog.append(f.read())
        with open(os.path.join(home, "status.json")) as f:
            frames = json.load(f).get("frames")
        if frames is None:
            raise CaptureError(f"{home}/status.json has no frame counters: rebuild medledger")
        for name, count in frames["sent"].items():
            sent[name] = sent.get(name, 0) + count
        for name, count in frames["received"].items():
            received[name] = received.get(name, 0) + count
    return peer_ports, client_ports, "".join(keylog), sent, received
