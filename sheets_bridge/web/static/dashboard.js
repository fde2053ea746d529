// The dashboard's job card: shows the running or last job and polls it while it runs.
(function () {
  "use strict";
  const sb = window.sheetsBridge;
  const box = document.getElementById("job");
  let job = JSON.parse(box.dataset.job || "null");
  let timer = null;

  function show(j) {
    job = j;
    document.getElementById("job-empty").hidden = !!j;
    document.getElementById("job-body").hidden = !j;
    if (!j) return;
    document.getElementById("job-kind").textContent = j.kind;
    const state = document.getElementById("job-state");
    state.textContent = j.state;
    state.className = "state " + j.state;
    document.getElementById("job-id").textContent = j.id;
    document.getElementById("job-progress").value = j.progress || 0;
    document.getElementById("job-step").textContent = j.step || "";
    document.getElementById("job-message").textContent = j.error || j.message || "";
    const active = j.state === "queued" || j.state === "running";
    document.querySelectorAll("[data-start]").forEach((b) => { b.disabled = active; });
    clearTimeout(timer);
    if (active) timer = setTimeout(poll, 1000);
  }

  async function poll() {
    try {
      const data = await sb.api("GET", "/api/jobs/" + encodeURIComponent(job.id));
      const wasActive = job.state === "queued" || job.state === "running";
      show(data.job);
      if (wasActive && data.job.state === "done") {
        sb.toast(data.job.kind + " done");
        setTimeout(() => window.location.reload(), 1500); // new versions and accuracy
      }
    } catch (e) {
      sb.toast(e.message, "error");
      timer = setTimeout(poll, 5000);
    }
  }

  document.querySelectorAll("[data-start]").forEach((button) => {
    button.addEventListener("click", async () => {
      const kind = button.dataset.start;
      try {
        const data = await sb.api("POST", "/api/" + kind, {});
        show(data.job);
        sb.toast(kind + " started");
      } catch (e) {
        if (e.status === 409 && e.data && e.data.job) show(e.data.job);
        sb.toast(e.message, "error");
      }
    });
  });
  show(job);
})();
