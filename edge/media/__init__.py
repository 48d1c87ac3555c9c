"""The call's media on the kiosk: camera, screen and headset sources, and the WebRTC peer."""
