// Package outbox is the durable queue of outbound channel messages.
//
// Enqueue commits a message to the state database before it returns, under
// an idempotency key (a repeated key returns the item already queued), so a
// reply survives a gateway restart or a platform outage. Run delivers the
// queue through a Sender (the channel manager): due items oldest first, one
// at a time per conversation (channel, account, chat) so that a chat sees
// its messages in order, conversations in parallel up to Options.Workers.
//
// A send that succeeds marks the item delivered with the platform's
// message id. A transient failure (channel.ErrTransient, or any error that
// is not classified) is retried with exponential backoff and jitter, or
// exactly after the platform's RetryAfter when it gave one (rate limits);
// the rest of that chat waits behind it. A permanent failure
// (channel.ErrPermanent), a panic in the sender, or running out of
// Options.MaxAttempts marks the item failed with its error and reports it
// to Options.OnFailed; later messages to the chat go on.
//
// # Delivery guarantee
//
// The queue never sends an item again once a send of it returned success:
// an item is claimed (pending → sending) in one transaction before the
// send, and the outcome is recorded in one transaction as soon as the send
// returns; only pending items are ever claimed. If the outcome cannot be
// written (database busy or gone), it is kept in memory and written later;
// the item stays "sending" and is not sent again by this process.
//
// Delivery is nevertheless at-least-once across crashes: when the process
// dies (or the outcome could not be saved before it stopped) between
// claiming an item and recording the result, the platform may already have
// the message, but the database cannot know. Run starts by returning such
// "sending" items to the queue, so they are sent again and the chat may
// show a duplicate. The window is one send per conversation, only at a
// crash; platforms offer no idempotent send to close it. Items that have
// already used all their attempts fail instead of being sent again.
//
// A send interrupted by shutdown (Run's context ends while the sender is
// still working) is treated the same way: it counts as an attempt and the
// item is returned to the queue, to be sent again by the next Run.
package outbox
