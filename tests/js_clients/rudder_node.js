// @rudderstack/rudder-sdk-node in its default configuration (gzip on) but for `dataPlaneUrl`.
// Usage: node rudder_node.js DATA_PLANE_URL WRITE_KEY RUN_ID HOLD_MS. Prints {"sent": n, "errors": [...], "calledAt": ms}.
const Analytics = require('@rudderstack/rudder-sdk-node');

const [dataPlaneUrl, writeKey, run, holdMs] = process.argv.slice(2);
const errors = [];
const client = new Analytics(writeKey, { dataPlaneUrl });

const userId = `${run}-user`;
const anonymousId = `${run}-anon`;
const calledAt = Date.now();
client.track({ anonymousId, event: 'Browsed Anonymously', properties: { page: 1 } });
client.alias({ userId, previousId: anonymousId });
client.identify({ userId, anonymousId, traits: { email: `${run}@example.com`, name: 'Arthur Dent', plan: 'pro' } });
client.track({ userId, event: 'Order Completed', properties: { revenue: 42 } });
client.page({ userId, category: 'Docs', name: 'Home', properties: { url: 'https://www.example.com/docs' } });
client.screen({ userId, name: 'Dashboard', properties: { tab: 'main' } });
client.group({ userId, groupId: 'g-1', traits: { name: 'Team' } });

(async () => {
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  try {
    await client.flush();
    while (client.queue.length) await client.flush();  // a flush sends at most flushAt (20) messages
  } catch (err) {
    errors.push(String((err && err.message) || err));
  }
  console.log(JSON.stringify({ sent: 7, errors, calledAt }));
  process.exit(0);
})();
