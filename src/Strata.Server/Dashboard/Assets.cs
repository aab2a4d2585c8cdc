namespace Strata.Server.Dashboard;

/// <summary>
/// The dashboard's only style sheet and only script, inlined in every page (a few kilobytes, no second request,
/// no JavaScript library). The script runs on the first load and after each enhanced navigation: it follows the
/// statuses on the page (server-sent events), streams the log, refreshes the charts when points arrive, and the
/// deployment pages' live parts when their deployments change.
/// </summary>
public static class DashboardAssets
{
    public const string Css = """
        :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #fff; line-height: 1.4; }
        body { margin: 0; }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
        header { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: 8px; padding: 8px 16px; background: #20262e; color: #fff; }
        header nav { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
        header a { color: #fff; } header a.active { font-weight: bold; text-decoration: underline; }
        .brand { font-weight: bold; margin-right: 8px; }
        .who { display: flex; gap: 8px; align-items: center; font-size: 0.9em; }
        main { padding: 16px; max-width: 1200px; margin: 0 auto; }
        a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
        table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
        .scroll { overflow-x: auto; }
        .status { padding: 1px 6px; border-radius: 4px; border: 1px solid; white-space: nowrap; }
        .status-pending { color: #6a4f00; background: #fff5d6; } .status-running, .status-cancelling { color: #0b4f9c; background: #e3efff; }
        .status-succeeded { color: #11632b; background: #e1f5e6; } .status-failed { color: #9c1c1c; background: #fde6e6; }
        .status-cancelled { color: #444; background: #eee; }
        form.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 12px; }
        label { display: inline-flex; flex-direction: column; font-size: 0.9em; gap: 2px; }
        label.inline { flex-direction: row; align-items: center; gap: 4px; }
        input, select, button, textarea { font: inherit; padding: 4px 8px; }
        button.danger { background: #b42318; color: #fff; border: 1px solid #7a1710; }
        pre { background: #f6f8fa; padding: 8px; overflow: auto; }
        pre.log { max-height: 420px; white-space: pre-wrap; word-break: break-all; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
        figure { margin: 0; } figure svg { width: 100%; height: auto; border: 1px solid #d0d7de; }
        .paging { display: flex; gap: 16px; margin-top: 12px; }
        .toolbar { display: flex; gap: 8px; margin-bottom: 8px; } .toolbar a[aria-current] { font-weight: bold; text-decoration: none; }
        .empty { padding: 16px; background: #f6f8fa; border-radius: 6px; }
        .error { color: #9c1c1c; }
        td.differs { font-weight: bold; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; } dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; }
        @media (max-width: 640px) { main { padding: 8px; } th, td { padding: 4px; } .hide-narrow { display: none; } }
        """;

    public const string Script = """
        (() => {
          let live = [];
          const stop = () => { live.forEach(c => c.close()); live = []; };
          const path = id => '/ui/jobs/' + encodeURIComponent(id);
          function init() {
            stop();
            const ids = [...new Set([...document.querySelectorAll('[data-job-status]')].map(e => e.dataset.jobStatus))];
            const charts = document.querySelector('[data-charts]');
            if (ids.length) {
              const es = new EventSource('/ui/events/jobs?' + ids.map(i => 'id=' + encodeURIComponent(i)).join('&') + (charts ? '&metrics=true' : ''));
              es.addEventListener('status', ev => {
                const d = JSON.parse(ev.data);
                document.querySelectorAll('[data-job-status="' + CSS.escape(d.id) + '"]').forEach(e => { e.textContent = d.text; e.className = 'status status-' + d.status; });
                document.querySelectorAll('[data-active-only="' + CSS.escape(d.id) + '"]').forEach(e => { e.hidden = !['pending', 'running'].includes(d.status); });
              });
              es.addEventListener('metrics', async () => {
                const r = await fetch(path(charts.dataset.charts) + '/charts?x=' + encodeURIComponent(charts.dataset.chartsX || 'step'));
                if (r.ok) charts.innerHTML = await r.text();
              });
              es.addEventListener('end', () => es.close());
              live.push(es);
            }
            const log = document.querySelector('[data-log]');
            if (log) streamLog(log);
            const deployments = document.querySelector('[data-live-deployments]');
            if (deployments) {
              const d = deployments.dataset;
              const es = new EventSource('/ui/events/deployments?stamp=' + encodeURIComponent(d.stamp) + (d.liveDeployments ? '&name=' + encodeURIComponent(d.liveDeployments) : ''));
              es.addEventListener('deployment', refreshLiveParts);
              live.push(es);
            }
          }
          // The page again, from the server, and its live parts swapped in; a part being typed in is left as it is.
          async function refreshLiveParts() {
            const url = location.href;
            const r = await fetch(url);
            if (location.href !== url) return; // navigated away meanwhile
            if (!r.ok) { location.reload(); return; }
            const next = new DOMParser().parseFromString(await r.text(), 'text/html');
            document.querySelectorAll('[data-live]').forEach(part => {
              const fresh = next.querySelector('[data-live="' + CSS.escape(part.dataset.live) + '"]');
              if (fresh && !part.contains(document.activeElement)) part.replaceWith(fresh);
            });
          }
          function streamLog(el) {
            const out = el.querySelector('pre'), rank = el.querySelector('select'), follow = el.querySelector('input[type=checkbox]');
            let ctl;
            const run = async () => {
              if (ctl) ctl.abort();
              ctl = new AbortController();
              out.textContent = '';
              try {
                const r = await fetch(path(el.dataset.log) + '/log?follow=true&tail=1000&rank=' + (rank ? rank.value : '0'), { signal: ctl.signal });
                if (!r.ok) { out.textContent = '(no log yet)'; return; }
                const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
                for (;;) {
                  const { value, done } = await reader.read();
                  if (done) break;
                  out.append(value);
                  if (follow.checked) out.scrollTop = out.scrollHeight;
                }
                el.dataset.ended = 'true';
              } catch (e) { if (e.name !== 'AbortError') out.append('\n(the log stream broke off: reload to resume)'); }
            };
            if (rank) rank.onchange = run;
            live.push({ close: () => ctl && ctl.abort() });
            run();
          }
          init();
          if (window.Blazor) Blazor.addEventListener('enhancedload', init);
        })();
        """;
}
