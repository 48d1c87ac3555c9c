"""Fleet alerts: conditions evaluated from the registry, de-duplicated, sent to a webhook
with recovery notices."""
