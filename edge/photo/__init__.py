"""The face photo for the card application: detection and landmarks (MediaPipe models run by
OpenCV's DNN module), the compliance check, the 35:45 crop and the live-preview guidance.

Everything here is synchronous CPU work; the agent calls it on a worker thread. Nets are cached
per thread (`models.nets()`), so concurrent callers never share one `cv2.dnn.Net`.
"""

from __future__ import annotations

from edge.photo.compliance import PhotoError, check, check_file
from edge.photo.crop import fix
from edge.photo.guidance import guidance
from edge.photo.settings import PhotoSettings

__all__ = ["PhotoError", "PhotoSettings", "check", "check_file", "fix", "guidance"]
