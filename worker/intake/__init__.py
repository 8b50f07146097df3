"""The mailbox: IMAP and Maildir access, connections, IDLE, moving mail once it is stored."""
