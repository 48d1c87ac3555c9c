"""Sites as data: registered sites, their kiosks and the pop-up lifecycle."""
