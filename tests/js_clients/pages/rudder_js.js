// The site's tracking code: load(writeKey, dataPlaneUrl) with the source config given locally instead of fetched
// from RudderStack's control plane (the only other change from the documented snippet). Query: dataPlane=URL, key,
// run, beacon=1 (the beacon transport).
(async () => {
  const qs = new URLSearchParams(location.search);
  const run = qs.get('run');
  const { RudderAnalytics } = window.rudderanalytics;
  const sourceConfig = {
    source: {
      id: 'local-source', name: 'shop', workspaceId: 'local', enabled: true,
      config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
      destinations: [],
    },
  };
  const loadOptions = { getSourceConfig: () => sourceConfig, logLevel: 'ERROR' };
  if (qs.get('consent') === '1') {
    // The site's consent manager (RudderStack's custom provider): the person allowed C0002, denied C0004.
    loadOptions.consentManagement = {
      enabled: true, provider: 'custom', allowedConsentIds: ['C0001', 'C0002'], deniedConsentIds: ['C0004'],
    };
  }
  if (qs.get('beacon') === '1') {
    loadOptions.useBeacon = true;
    loadOptions.beaconQueueOptions = { maxItems: 10, flushQueueInterval: 300 };
  }
  const ra = new RudderAnalytics();
  await new Promise((resolve) => ra.load(qs.get('key'), qs.get('dataPlane'), { ...loadOptions, onLoaded: resolve }));
  await new Promise((resolve) => ra.ready(resolve));
  const calledAt = Date.now();
  ra.track('Browsed Anonymously', { page: 1 });
  ra.identify(`${run}-user`, { email: `${run}@example.com`, name: 'Arthur Dent', plan: 'pro' });
  ra.track('Order Completed', { revenue: 42 });
  ra.page('Docs', 'Home', { section: 'top' });
  ra.group('g-1', { name: 'Team' });
  ra.alias(`${run}-user`, `${run}-previous`);
  // No delivery promise: the library queues and sends (XHR at once, beacon on its timer).
  await new Promise((resolve) => setTimeout(resolve, 1200));
  window.__report = { calledAt, anonymousId: ra.getAnonymousId() };
})().catch((err) => { window.__report = { error: String((err && err.stack) || err) }; });
