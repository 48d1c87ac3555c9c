"""The resident screen: a local web page the kiosk's Chromium shows full-screen."""
