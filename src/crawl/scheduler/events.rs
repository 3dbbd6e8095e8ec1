//! The scheduler's reactions to what its tasks report: a robots.txt copy, a server's
//! answer, a settled page, a lease or a store write that ended.
//!
//! Invariant: every event ends what it reports (a request on its clock, a fetch of
//! robots.txt, a refill) exactly once, and wakes the hosts that can go on.

use super::*;

impl Scheduler {
    pub(super) fn handle(&mut self, event: Event) -> Result<(), CrawlError> {
        let now = Instant::now();
        match event {
            Event::Leased {
                host,
                lease,
                generation,
            } => {
                self.pending -= 1;
                let slot = self.hosts.get_mut(&host).expect("slot exists");
                let later = slot.window.leased(lease?, generation, now);
                // One-shot crawls do not wait for URLs that are due later; the daemon
                // sets a timer for them.
                if let Some(due_ms) = later.filter(|_| self.mode == Mode::Daemon) {
                    self.timers.arm(&host, instant_of(due_ms, now));
                }
                self.wake_host(&host, now, false);
            }
            Event::Written(result) => {
                self.pending -= 1;
                result?;
            }
            Event::Enqueued { hosts, result } => {
                self.pending -= 1;
                if result? > 0 {
                    for host in hosts {
                        self.wake_host(&host, now, true);
                    }
                }
            }
            Event::Resolved { host, ip } => {
                self.pending -= 1;
                let key = match ip {
                    Some(ip) => format!("ip {ip}"),
                    None => host.clone(),
                };
                self.attach_clock(&host, key, now);
                self.wake_host(&host, now, false);
            }
            Event::Robots {
                host,
                copy,
                answered_at,
                feedback,
                refused,
            } => {
                // Crawl-delay first: the gap after this very request must honour it.
                let usable =
                    is_usable(&copy).then(|| policy_of(&copy, &self.crawler.config.robots_token));
                if let Some(robots) = &usable {
                    self.apply_crawl_delay(&host, robots);
                    self.queue_robots_sitemaps(&host, robots);
                }
                let key = self.request_ended(&host, answered_at, feedback);
                if usable.is_none() {
                    let url = format!("{}://{host}/robots.txt", self.hosts[&host].scheme);
                    let reason = format!("robots.txt unavailable: {}", unavailable_reason(&copy));
                    self.note_error(&host, url, reason);
                }
                if let Some(reason) = &refused {
                    // Not an outage: nothing of this host may be requested. Its URLs
                    // are settled with the reason instead of waiting for retries.
                    tracing::warn!(host, "{reason}; its URLs are not requested");
                }
                let policy = &self.crawler.config.politeness;
                let slot = self.hosts.get_mut(&host).expect("slot exists");
                let (verdict, tries) =
                    slot.robots
                        .answered(usable, refused, copy.fetched_at_ms, policy, self.mode);
                match verdict {
                    Verdict::Ready | Verdict::Refused => {}
                    // The host's clock keeps the failure backoff, which is this wait.
                    Verdict::Retry { .. } => tracing::info!(
                        host,
                        "robots.txt unavailable ({}); nothing else is requested until it can be read",
                        unavailable_reason(&copy)
                    ),
                    Verdict::GiveUp { again_in } => {
                        self.crawler.metrics.error("robots_unavailable");
                        let reason = unavailable_reason(&copy);
                        match again_in {
                            Some(rest) => {
                                tracing::warn!(
                                    host,
                                    "robots.txt unavailable ({reason}) after {tries} tries; trying again in {rest:?}"
                                );
                                self.timers.arm(&host, now + rest);
                            }
                            None => tracing::warn!(
                                host,
                                "robots.txt unavailable ({reason}) after {tries} tries; the host's URLs stay queued for a later run"
                            ),
                        }
                    }
                }
                match key {
                    Some(key) => self.wake_members(&key, &host, now),
                    None => self.wake_host(&host, now, false),
                }
            }
            Event::Answered {
                host,
                answered_at,
                feedback,
            } => match self.request_ended(&host, answered_at, feedback) {
                Some(key) => self.wake_members(&key, &host, now),
                None => self.wake_host(&host, now, false),
            },
            Event::Page { host, outcome } => {
                self.settling -= 1;
                let outcome = outcome?;
                match outcome.status {
                    Some(UrlStatus::Fetched) if outcome.unchanged => self.stats.unchanged += 1,
                    Some(UrlStatus::Fetched) => self.stats.pages_parsed += 1,
                    Some(UrlStatus::Failed) => self.stats.failed += 1,
                    Some(UrlStatus::Skipped) => self.stats.skipped += 1,
                    Some(UrlStatus::Alias) => self.stats.aliases += 1,
                    Some(UrlStatus::Queued) => self.stats.retried += 1,
                    _ => {}
                }
                self.stats.records += outcome.records as u64;
                self.stats.links_ignored += outcome.links_ignored as u64;
                self.stats.robots_denied += outcome.robots_denied as u64;
                for _ in 0..outcome.robots_denied {
                    self.crawler.metrics.robots_denied();
                }
                if let Some(slot) = self.hosts.get(&host) {
                    if outcome.records > 0 {
                        *self.site_records.entry(slot.site.name.clone()).or_default() +=
                            outcome.records as u64;
                    }
                    if let (Some(rate), Some(due_ms)) =
                        (outcome.revisit_rate, outcome.revisit_due_ms)
                    {
                        let interval = Duration::from_millis(due_ms.saturating_sub(now_ms()));
                        self.budgets
                            .learn(&slot.site.name, &outcome.url, rate, interval);
                    }
                }
                for (link_host, n) in &outcome.new_links {
                    self.stats.links_queued += *n as u64;
                    self.crawler.metrics.links_queued(*n as u64);
                    self.wake_host(link_host, now, true);
                }
                if outcome.requeued {
                    self.wake_host(&host, now, true);
                }
                if let Some(due_ms) = outcome.retry_due_ms.filter(|_| self.daemon()) {
                    self.timers.arm(&host, instant_of(due_ms, now));
                }
                if let Some(found) = outcome.found {
                    self.observe_extraction(&host, &outcome.url, found);
                }
                if let Some(due_ms) = outcome.revisit_due_ms {
                    self.timers.arm(&host, instant_of(due_ms, now));
                }
                if let Some(error) = outcome.error {
                    self.note_error(&host, outcome.url, error);
                }
            }
        }
        Ok(())
    }

    /// Ends a request on its clock and feeds the answer back.
    pub(super) fn request_ended(
        &mut self,
        host: &str,
        answered_at: Instant,
        feedback: Feedback,
    ) -> Option<String> {
        self.in_flight -= 1;
        let policy = self.crawler.config.politeness.clone();
        let key = self.hosts.get(host)?.clock.clone()?;
        let clock = self.clocks.get_mut(&key)?;
        clock.finished();
        clock.answered(answered_at, feedback, &policy);
        if let Feedback::Pause(pause) = feedback {
            tracing::info!(host, "server asked for a pause of {pause:?}");
            let until_ms = now_ms()
                + clock
                    .next_allowed
                    .saturating_duration_since(Instant::now())
                    .as_millis() as u64;
            self.save_clock(host, until_ms);
        }
        Some(key)
    }

    /// Keeps a failure for `/status`: the crawl's last errors and the host's last.
    pub(super) fn note_error(&mut self, host: &str, url: String, error: String) {
        let note = ErrorNote {
            url,
            error,
            at: rfc3339_now(),
        };
        if self.last_errors.len() >= LAST_ERRORS {
            self.last_errors.pop_back();
        }
        self.last_errors.push_front(note.clone());
        if let Some(slot) = self.hosts.get_mut(host) {
            slot.last_error = Some(note);
        }
    }

    /// Takes in which fields an article page's record had; warns when a field the site
    /// used to provide stops being found.
    pub(super) fn observe_extraction(
        &mut self,
        host: &str,
        url: &str,
        found: crate::health::Found,
    ) {
        let Some(site) = self.hosts.get(host).map(|s| s.site.name.clone()) else {
            return;
        };
        for alert in self.health.observe(&site, url, found, &rfc3339_now()) {
            self.crawler.metrics.extraction_alert();
            tracing::warn!(
                site = %alert.site,
                field = %alert.field,
                "extraction: {} stopped being found on site {:?} (it was on {:.0}% of article pages before; the last {} came without it, e.g. {}); the site may have changed its layout",
                alert.field,
                alert.site,
                alert.found_before * 100.0,
                crate::health::RUN,
                alert.sample_urls.join(", ")
            );
        }
        if let Some(report) = self.health.site_report(&site) {
            self.crawler.metrics.set_extraction(&report);
        }
    }
}
