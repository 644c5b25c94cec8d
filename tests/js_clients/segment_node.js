// @segment/analytics-node in its default configuration but for `host`: every call type for one person.
// Usage: node segment_node.js HOST WRITE_KEY RUN_ID HOLD_MS. Prints {"sent": n, "errors": [...], "calledAt": ms}.
const { Analytics } = require('@segment/analytics-node');

const [host, writeKey, run, holdMs] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host });
const errors = [];
analytics.on('error', (err) => errors.push(String((err && err.message) || err)));

const userId = `${run}-user`;
const anonymousId = `${run}-anon`;
const calledAt = Date.now();
analytics.track({ anonymousId, event: 'Browsed Anonymously', properties: { page: 1 } });
analytics.alias({ userId, previousId: anonymousId });
analytics.identify({ userId, anonymousId, traits: { email: `${run}@example.com`, name: 'Arthur Dent', plan: 'pro' } });
analytics.track({ userId, event: 'Order Completed', properties: { revenue: 42 } });
analytics.page({ userId, category: 'Docs', name: 'Home', properties: { url: 'https://www.example.com/docs' } });
analytics.screen({ userId, name: 'Dashboard', properties: { tab: 'main' } });
analytics.group({ userId, groupId: 'g-1', traits: { name: 'Team' } });

(async () => {
  // Held back before the flush, as an application's queue would be: the stored time must be the call's.
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  await analytics.closeAndFlush({ timeout: 20000 });
  console.log(JSON.stringify({ sent: 7, errors, calledAt }));
})();
