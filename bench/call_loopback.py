"""The peer for `madoguchi bench call`: aiortc's plain loopback in a process of its own.

Two RTCPeerConnections in one process, the sender with the same sources as a kiosk (test
pattern camera, test-pattern screen, tone), the receiver consuming every track. Prints one
JSON line with the CPU it used (percent of one core) over the measured window.

    python -m bench.call_loopback SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import psutil
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaBlackhole

from edge.media.sources import TestPatternCamera
from edge.media.tracks import LatestFrameTrack, ToneTrack


async def main(seconds: float) -> None:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sink = MediaBlackhole()
    receiver.on("track", sink.addTrack)
    for track in (
        ToneTrack(),
        LatestFrameTrack(TestPatternCamera()),
        LatestFrameTrack(TestPatternCamera()),
    ):
        sender.addTrack(track)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    await sink.start()
    await asyncio.sleep(3)  # warm up: connected, encoders running
    process = psutil.Process()
    before, started = process.cpu_times(), time.monotonic()
    await asyncio.sleep(seconds)
    after, elapsed = process.cpu_times(), time.monotonic() - started
    used = (after.user - before.user) + (after.system - before.system)
    print(json.dumps({"cpu_percent": 100 * used / elapsed}), flush=True)
    await sink.stop()
    await sender.close()
    await receiver.close()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
