"""Store and forward: the transaction journal, in-flight resolution and the offline replay.

``journal`` is the durable record every circulation transaction is written to before the ILS is
asked (``schema``: its versioned tables); ``resolve`` finds out from the ILS whether a transaction
whose answer was lost happened; ``replay`` forwards offline transactions (``kiosk sync``);
``report`` turns rejected replays into a list for staff; ``owner_lock`` tells a live process's
in-flight work from a dead one's; ``cli`` is ``kiosk sync`` and ``kiosk queue``.

How the kiosk process (the ILS gateway and the offline policy) uses it, in a few lines::

    from kiosk.sync.journal import Answer, Journal, Kind
    from kiosk.sync.resolve import pre_image, settle

    journal = Journal.open(settings.journal.path, busy_timeout=settings.journal.busy_timeout_seconds)
    if not journal.own("kiosk"):                  # one kiosk process per journal
        raise SystemExit("another kiosk process is using the journal")

    # At start-up, and when the ILS is back: settle what a crash left in flight (after waiting
    # [journal] lost_answer_wait_seconds, so a request the ILS was still working on has landed).
    for tx in journal.in_flight("kiosk"):
        settle(journal, tx, client)               # raises SIP2Error while the ILS cannot be asked

    # Offline, or while older offline transactions wait (journal.backlog() > 0): the policy queues.
    journal.queue_offline(Kind.CHECKOUT, patron_id=..., item_id=..., transaction_date=now,
                          nb_due_date=due_told_to_patron, session_ref=command.ref)
    journal.queue_offline(Kind.CHECKIN, patron_id=None, item_id=..., transaction_date=now)

    # Online: intent first, then the request, then the outcome.
    tx = journal.begin_online(Kind.CHECKOUT, patron_id=..., item_id=..., transaction_date=now,
                              owner="kiosk", session_ref=command.ref)
    # (a renewal also passes due_before=pre_image(client, item_id), read just before)
    try:
        response = client.checkout(...)
    except OutcomeUnknown:
        tx, resolution = settle(journal, tx, client)   # confirmed / failed / unknown (staff)
    except SIP2ConnectionError as exc:             # the request never left
        journal.queue_instead(tx.id, nb_due_date=...)  # if the offline policy takes it, else:
        journal.fail(tx.id, str(exc))
    else:
        if response.ok:
            journal.confirm(tx.id, Answer(True, due_date=response.due_date, title=response.title))
        else:
            journal.refuse(tx.id, Answer(False, reason="; ".join(response.screen_messages)))

No call takes a PIN. Patron ids of settled transactions are masked after [journal] retention_days
by ``kiosk sync`` (``journal.purge``). Staff see ``journal.needs_staff()`` (``kiosk queue report``).
"""
