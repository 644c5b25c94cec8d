// Tells the console the reader's time zone (apps/console/timezones.py): the next page shows times in it.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    var cookie = "console_tz=" + encodeURIComponent(zone);
    if (document.cookie.split("; ").indexOf(cookie) === -1) {
      document.cookie = cookie + "; path=/admin/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) {
    // An old browser without Intl: times stay in UTC, labelled as such.
  }
})();
