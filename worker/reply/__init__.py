"""What goes back out: reply texts, who is never answered, the outbox and its transports."""
