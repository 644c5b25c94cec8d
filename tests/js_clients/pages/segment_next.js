// The site's tracking code: AnalyticsBrowser.load with the collector's host, settings given locally instead of
// fetched from Segment's CDN (the only other change from the documented snippet). Query: collector=host:port,
// key, run, batching=1.
(async () => {
  const qs = new URLSearchParams(location.search);
  const run = qs.get('run');
  const writeKey = qs.get('key');
  const segmentio = { apiKey: writeKey, apiHost: `${qs.get('collector')}/v1`, protocol: 'http' };
  if (qs.get('batching') === '1') segmentio.deliveryStrategy = { strategy: 'batching', config: { size: 10, timeout: 300 } };
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
    {
      writeKey,
      cdnSettings: {
        integrations: { 'Segment.io': segmentio },
        plan: {},
        enabledMiddleware: {},
        metrics: { sampleRate: 1, flushTimer: 300 },
      },
    },
    { integrations: { 'Segment.io': segmentio } },
  );
  // probe=1: first, one POST of the page's own to the collector, reporting what a script of this origin can read
  // of the answer (a 429's Retry-After is hidden unless the collector's CORS headers expose it).
  let probe = null;
  if (qs.get('probe') === '1') {
    const answer = await fetch(`${segmentio.protocol}://${segmentio.apiHost}/t`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Basic ${btoa(`${writeKey}:`)}` },
      body: JSON.stringify({ type: 'track', event: 'Probe', anonymousId: `${run}-probe` }),
    });
    probe = { status: answer.status, retryAfter: answer.headers.get('Retry-After') };
  }
  const calledAt = Date.now();
  if (qs.get('consent') === '1') {
    // What @segment/analytics-consent-tools' wrapper stamps on every event, passed through the library's own
    // per-call context option (the wrapper itself ships no browser build to load without a bundler).
    const consent = { consent: { categoryPreferences: { Advertising: false, Analytics: true } } };
    await analytics.track('Consent Given', {}, { context: consent });
    await analytics.identify(`${run}-user`, { email: `${run}@example.com` }, { context: consent });
    window.__report = { calledAt, anonymousId: analytics.user().anonymousId(), failed: [] };
    return;
  }
  // alias first: analytics-next 1.84.3 overwrites alias's userId with a known user's id.
  const contexts = await Promise.all([
    analytics.alias(`${run}-user`, `${run}-previous`),
    analytics.identify(`${run}-user`, { email: `${run}@example.com`, name: 'Arthur Dent', plan: 'pro' }),
    analytics.track('Order Completed', { revenue: 42 }),
    analytics.page('Docs', 'Home', { section: 'top' }),
    analytics.screen('App', 'Dashboard', { tab: 'main' }),
    analytics.group('g-1', { name: 'Team' }),
  ]);
  // Batching delivers on its timer, and metrics on theirs: give both time before reporting.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  window.__report = {
    calledAt,
    probe,
    anonymousId: analytics.user().anonymousId(),
    failed: contexts.map((c) => c.failedDelivery()).filter(Boolean).map((f) => String(f.reason)),
  };
})().catch((err) => { window.__report = { error: String((err && err.stack) || err) }; });
