"""Message-IDs (RFC 5322 3.6.4: globally unique): a reset database numbers sends and
subscribers from 1 again, and must still never repeat one."""

from __future__ import annotations


def test_a_reset_database_never_reuses_a_message_id(alert, smtp_server):
    seen = []
    for _ in range(2):  # two fresh databases: send 1 to subscriber 1 both times
        job = alert(readers=1)
        assert (job.send_id, job.subscriber_id(job.emails[0])) == (1, 1)
        job.run()
        seen.append(smtp_server.handler.to(job.emails[0])[-1].message["Message-ID"])
    assert seen[0] != seen[1]


def test_a_retried_reader_keeps_the_message_id_of_their_send(alert, smtp_server):
    """The tag is the send's own, so a second compile (another worker) gives the same id."""
    from distributor.email.batch import compiled_cache

    job = alert(readers=2)
    smtp_server.handler.busy_rcpts = 1
    job.run()
    compiled_cache.items.clear()
    job.reopen()
    job.run()
    ids = [smtp_server.handler.to(e)[-1].message["Message-ID"] for e in job.emails]
    send_part = {i.split(".")[0] for i in ids}
    assert len(send_part) == 1 and ids[0] != ids[1]
