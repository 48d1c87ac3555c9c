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

import psutil
from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaBlackhole

from bench.servers import cpu_percent
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
    print(json.dumps({"cpu_percent": await cpu_percent(psutil.Process(), seconds)}), flush=True)
    await sink.stop()
    await sender.close()
    await receiver.close()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
