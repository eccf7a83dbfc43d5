/**
 * Events and gated work queues, after ManifoldCF's {@code IEventActivity} and its job queue with
 * prerequisite events: {@link dev.baton.client.events.EventActivity} (begin and complete named
 * events, retry a document), {@link dev.baton.client.events.GatedQueue} (items that are not handed
 * out while any of their prerequisite events is pending, with a blocking claim) and
 * {@link dev.baton.client.events.QueueSignals} (wakes blocked claims from the session's event
 * stream). See {@code docs/events.md}.
 */
package dev.baton.client.events;
