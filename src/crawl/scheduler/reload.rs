//! The scheduler's answers to control messages: a status snapshot, and a config
//! reloaded in place (sites, patterns and delays change; hosts keep their clocks).
//!
//! Invariant: a reload that does not validate changes nothing; one that does applies
//! whole, between two events.

use super::*;

impl Scheduler {
    pub(super) fn control(&mut self, request: Control) {
        match request {
            Control::Status(reply) => {
                let _ = reply.send(self.live_status());
            }
            Control::Reload(config, reply) => {
                let result = self.reload(*config);
                match &result {
                    Ok(()) => tracing::info!(
                        "configuration reloaded: {} sites",
                        self.config().sites.len()
                    ),
                    Err(e) => tracing::error!("configuration not reloaded: {e}"),
                }
                let _ = reply.send(result);
            }
        }
    }

    /// Switches to a new config without stopping: sites, patterns, delays and limits
    /// apply to every request from now on; new seeds are queued. Refused, with the
    /// old config kept, when the change needs a restart.
    pub(super) fn reload(&mut self, mut config: CrawlConfig) -> Result<(), String> {
        let old = self.crawler.config.clone();
        if config.state_dir != old.state_dir {
            return Err(format!(
                "crawler.state_dir changed ({} -> {}); that needs a restart",
                old.state_dir.display(),
                config.state_dir.display()
            ));
        }
        let site_parsers = crate::crawl::site_parsers(&config, &self.crawler.parsers)
            .map_err(|e| e.to_string())?;
        crate::crawl::control::carry_over(&old, &mut config, "with another state directory")?;
        let fetcher = fetcher_for(&config).map_err(|e| e.to_string())?;
        self.crawler.fetcher = fetcher;
        self.crawler.site_parsers = site_parsers;
        self.crawler.host_sites = host_sites_of(&config);
        self.crawler.config = Arc::new(config);
        for (host, slot) in self.hosts.iter_mut() {
            match self.crawler.host_sites.get(host) {
                Some(site) => {
                    slot.site = site.clone();
                    slot.retired = false;
                }
                None => slot.retired = true,
            }
        }
        // Delays: the sites' new floors, then each host's robots.txt Crawl-delay again.
        let limit = self.config().politeness.per_host_concurrency;
        for (key, members) in &self.members {
            let floor = members
                .iter()
                .map(|m| self.hosts[m].site.min_delay)
                .max()
                .unwrap_or_default();
            let clock = self.clocks.get_mut(key).expect("clock exists");
            clock.set_base(floor);
            clock.limit = limit;
        }
        let ready: Vec<(String, Arc<Robots>)> = self
            .hosts
            .iter()
            .filter_map(|(host, slot)| Some((host.clone(), slot.robots.ready()?.clone())))
            .collect();
        for (host, robots) in ready {
            self.apply_crawl_delay(&host, &robots);
        }
        // New seeds, and hosts of new sites that already have queued URLs.
        let starts = start_entries(self.config());
        let names: Vec<String> = self.config().sites.iter().map(|s| s.name.clone()).collect();
        let known: std::collections::HashSet<String> =
            self.crawler.host_sites.keys().cloned().collect();
        self.store_in_background(
            move |store| {
                store.put_meta("sites", names.join("\n").as_bytes())?;
                store.enqueue_new(&starts, now_ms())?;
                store.hosts_with_work()
            },
            move |result| {
                let (hosts, result) = match result {
                    Ok(hosts) => {
                        let hosts: Vec<String> =
                            hosts.into_iter().filter(|h| known.contains(h)).collect();
                        let n = hosts.len();
                        (hosts, Ok(n))
                    }
                    Err(e) => (Vec::new(), Err(e)),
                };
                Event::Enqueued { hosts, result }
            },
        );
        Ok(())
    }

    pub(super) fn live_status(&self) -> LiveStatus {
        let now = Instant::now();
        let now_unix = now_ms();
        let s = &self.stats;
        let sites = self
            .config()
            .sites
            .iter()
            .map(|site| SiteLive {
                name: site.name.clone(),
                hosts: site.allowed_hosts().to_vec(),
                records_committed: self.site_records.get(&site.name).copied().unwrap_or(0),
                revisit_min_seconds: site.revisit.min.as_secs_f64(),
                revisit_max_seconds: site.revisit.max.as_secs_f64(),
            })
            .collect();
        let mut hosts: Vec<HostLive> = self
            .hosts
            .iter()
            .map(|(host, slot)| {
                let clock = slot.clock.as_ref().and_then(|k| self.clocks.get(k));
                HostLive {
                    host: host.clone(),
                    site: slot.site.name.clone(),
                    robots: slot.robots.label(),
                    in_flight: clock.map_or(0, |c| c.in_flight),
                    leased: slot.window.len(),
                    delay_seconds: clock.map_or(0.0, |c| c.delay().as_secs_f64()),
                    next_allowed_in_seconds: clock.map_or(0.0, |c| {
                        c.next_allowed.saturating_duration_since(now).as_secs_f64()
                    }),
                    next_due_in_seconds: slot
                        .window
                        .next_due_ms()
                        .map(|due| due.saturating_sub(now_unix) as f64 / 1000.0),
                    last_error: slot.last_error.clone(),
                }
            })
            .collect();
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        LiveStatus {
            mode: match self.mode {
                Mode::OneShot => "crawl",
                Mode::Daemon => "daemon",
            },
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            counts: RunCounts::from(s),
            in_flight: self.in_flight,
            parsing: self.settling,
            sites,
            hosts,
            last_errors: self.last_errors.iter().cloned().collect(),
            extraction: self.health.report(),
        }
    }
}
