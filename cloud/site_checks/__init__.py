"""Pop-up site connection tests: the `site_check` command sent to every kiosk of a site, the
probe endpoint the kiosks measure against, and the reports kept with the site."""
