// When a signed-in session ends (idle or absolute timeout, signed out in another tab, revoked by an
// administrator), the dashboard's data requests answer 401: go to the sign-in page, and come back
// to this view after signing in. With sign-in off nothing answers 401 and this does nothing.
(function () {
  const originalFetch = window.fetch;
  window.fetch = function () {
    return originalFetch.apply(this, arguments).then(function (response) {
      if (response.status === 401 && response.url.indexOf('/_dash-') !== -1) {
        const here = window.location.pathname + window.location.search;
        window.location.assign('/login?expired=1&next=' + encodeURIComponent(here));
      }
      return response;
    });
  };
})();
