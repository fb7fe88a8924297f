"""Mail transports: SMTP (pooled per batch) and maildir."""

from distributor.mail.transport import Connection, MaildirTransport, SMTPTransport, open_transport

__all__ = ["Connection", "MaildirTransport", "SMTPTransport", "open_transport"]
