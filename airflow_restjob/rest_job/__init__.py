"""The REST-job model and the sans-IO core: what to send, how to judge a reply, when to poll, what to stop."""
