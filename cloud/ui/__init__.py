"""Server-rendered Japanese pages (Jinja2, a little vanilla JS, no build step, no CDN)."""
