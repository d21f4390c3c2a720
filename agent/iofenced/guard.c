// SPDX-License-Identifier: Apache-2.0
/*
 * The guard (guard.h): periodic checks of the datapath on a thread of its own, repairs of what
 * was changed behind the agent's back, conntrack pressure, and the table of enforced
 * endpoints that GetStatus reports.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "agent/datapath/datapath.h"
#include "arena.h"
#include "config.h"
#include "engine.h"
#include "guard.h"
#include "proc_start.h"
#include "log.h"
#include "policy/image.h"
#include "snapshot.h"

enum guard_what {
	GW_LINK,
	GW_PIN,
	GW_ENDPOINT_ENTRY,
	GW_POLICY_ENTRY,
	GW_INACTIVE_SLOT,
	GW_STATE,
	GW_ANY_GROUP,
	GW_PREFILTER,
	GW_CONFIG,
	GW_FAILSAFE,
	GW_MAX
};

static const char *const what_names[GW_MAX] = {
    "link",  "pin",	  "endpoint_entry", "policy_entry", "inactive_slot",
    "state", "any_group", "prefilter",	    "config",	    "failsafe"};

/* Fill above which a warning is logged, and below which it is cleared again (percent). */
#define CT_WARN_PCT 90
#define CT_CLEAR_PCT 85

struct guard_ep {
	char *name;
	bool enforced;
	uint32_t ifindex; /* the interface it was checked on */
	char reason[96];
};

/* How verifications of the slots ended (iofence_guard_verifications_total{result}). */
enum guard_verify_result {
	GV_CONCLUDED, /* read while no apply ran: what it found holds */
	GV_OVERTAKEN, /* an apply changed a slot it read: nothing concluded, tried again */
	GV_HELD,      /* overtaken until near the repair bound: read while applies waited */
	GV_MAX
};

static const char *const verify_result_names[GV_MAX] = {"concluded", "overtaken", "held"};

struct guard {
	struct engine *e;
	const struct agent_config *cfg;
	/* the guard's own thread (guard_start); without it the apply thread ticks */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t wake_lock; /* stop */
	pthread_cond_t wake;
	bool stop;
	atomic_uint_fast64_t verifications[GV_MAX];
	uint64_t verified_us; /* when the last concluded verification started */
	pthread_mutex_t lock;	      /* eps */
	pthread_mutex_t refresh_lock; /* one refresh at a time: the newest table wins */
	atomic_bool refresh_pending;  /* a refresh was asked for while one ran */
	struct guard_ep *eps;
	size_t n_eps;
	atomic_uint_fast64_t repairs[GW_MAX];
	uint64_t next_tick_us, next_verify_us;
	bool ct_warned[2];
	uint64_t ct_failures_seen[2];
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

long guard_ms_since_process_start(void)
{
	return proc_ms_since_start();
}

struct guard *guard_new(struct engine *e, const struct agent_config *cfg)
{
	struct guard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->e = e;
	g->cfg = cfg;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->refresh_lock, NULL);
	pthread_mutex_init(&g->wake_lock, NULL);
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	return g;
}

static void eps_free(struct guard_ep *eps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(eps[i].name);
	free(eps);
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	if (g->thread_started) {
		pthread_mutex_lock(&g->wake_lock);
		g->stop = true;
		pthread_cond_signal(&g->wake);
		pthread_mutex_unlock(&g->wake_lock);
		pthread_join(g->thread, NULL);
	}
	eps_free(g->eps, g->n_eps);
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->refresh_lock);
	pthread_mutex_destroy(&g->wake_lock);
	pthread_cond_destroy(&g->wake);
	free(g);
}

static void refresh(struct guard *g)
{
	struct snapshot *s = g ? engine_current(g->e) : NULL;
	struct datapath *dp = g ? engine_datapath(g->e) : NULL;
	const struct policy_image *img = s ? snapshot_image(s) : NULL;
	size_t n = img ? img->n_endpoints : 0;
	struct guard_ep *eps = calloc(n + 1, sizeof(*eps)), *old;

	if (!g || !eps) {
		free(eps);
		snapshot_unref(s);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		eps[i].name = strdup(img->endpoints[i].name);
		if (!dp)
			snprintf(eps[i].reason, sizeof(eps[i].reason), "no datapath (--datapath none)");
		else
			eps[i].enforced = dp_endpoint_enforced(dp, img->endpoints[i].name,
							       &eps[i].ifindex, eps[i].reason,
							       sizeof(eps[i].reason));
	}
	pthread_mutex_lock(&g->lock);
	old = g->eps;
	size_t n_old = g->n_eps;
	g->eps = eps;
	g->n_eps = n;
	pthread_mutex_unlock(&g->lock);
	eps_free(old, n_old);
	snapshot_unref(s);
}

/*
 * Nobody waits for another thread's refresh (the link watcher must be back on its socket at
 * once): a caller that finds one running leaves it a note, and the thread running it refreshes
 * again before it returns, so the table is never older than the last call.
 */
void guard_refresh(struct guard *g)
{
	if (!g)
		return;
	atomic_store(&g->refresh_pending, true);
	while (atomic_load(&g->refresh_pending) && !pthread_mutex_trylock(&g->refresh_lock)) {
		atomic_store(&g->refresh_pending, false);
		refresh(g);
		pthread_mutex_unlock(&g->refresh_lock);
	}
}

bool guard_endpoint_enforced(struct guard *g, const char *name, uint32_t ifindex, char *reason,
			     size_t len)
{
	bool found = false, enforced = false;

	snprintf(reason, len, "not verified yet");
	if (!g)
		return false;
	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < g->n_eps && !found; i++) {
		if (!g->eps[i].name || strcmp(g->eps[i].name, name))
			continue;
		found = true;
		enforced = g->eps[i].enforced;
		snprintf(reason, len, "%s", g->eps[i].reason);
		if (enforced && ifindex && g->eps[i].ifindex && ifindex != g->eps[i].ifindex) {
			enforced = false; /* the interface was replaced: not checked yet */
			snprintf(reason, len, "interface replaced, not attached yet");
		}
	}
	pthread_mutex_unlock(&g->lock);
	return enforced;
}

static void report(void *ctx, const char *what, const char *detail)
{
	struct guard *g = ctx;

	for (int w = 0; w < GW_MAX; w++)
		if (!strcmp(what, what_names[w]))
			atomic_fetch_add(&g->repairs[w], 1);
	log_warn("tamper: %s: %s", what, detail);
}

/* Writes the enforced revision again, whole, into the inactive slot and flips to it. */
static void reenforce(struct guard *g, struct datapath *dp)
{
	struct snapshot *s = engine_current(g->e);
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	struct policy_image *img = NULL;
	char err[512] = "";
	int r;

	if (!doc) {
		snapshot_unref(s);
		return;
	}
	/* with the enforced image's profile numbers: the same image the engine enforced */
	r = policy_compile_update(doc, g->cfg->node, snapshot_image(s), POLICY_REUSE_NUMBERS, &img,
				  err, sizeof(err));
	if (!r)
		r = dp_apply_again(dp, img, err, sizeof(err));
	if (r == -ESTALE) /* the apply that overtook it wrote whole: nothing damaged is active */
		log_info("tamper: revision %llu not written again: %s",
			 (unsigned long long)snapshot_revision(s), err);
	else if (r)
		log_error("tamper: writing revision %llu again failed: %s",
			  (unsigned long long)snapshot_revision(s), err);
	else
		log_warn("tamper: revision %llu written again whole and activated",
			 (unsigned long long)snapshot_revision(s));
	policy_image_free(img);
	snapshot_unref(s);
}

static void ct_pressure(struct guard *g, struct datapath *dp)
{
	struct dp_ct_stats st[2];

	if (dp_read_ct_stats(dp, st))
		return;
	for (int f = 0; f < 2; f++) {
		uint64_t pct = st[f].capacity ? st[f].entries * 100 / st[f].capacity : 0;
		const char *fam = f ? "ipv6" : "ipv4";

		if (pct >= CT_WARN_PCT && !g->ct_warned[f]) {
			g->ct_warned[f] = true;
			log_warn("conntrack %s: %llu of %llu entries (%llu%%): new flows now evict "
				 "tracked ones (%llu evicted so far)",
				 fam, (unsigned long long)st[f].entries,
				 (unsigned long long)st[f].capacity, (unsigned long long)pct,
				 (unsigned long long)st[f].evictions);
		} else if (pct < CT_CLEAR_PCT && g->ct_warned[f]) {
			g->ct_warned[f] = false;
			log_info("conntrack %s: back to %llu%% full", fam, (unsigned long long)pct);
		}
		if (st[f].insert_failures > g->ct_failures_seen[f]) {
			log_warn("conntrack %s: %llu new flows could not be tracked (passed untracked)",
				 fam, (unsigned long long)(st[f].insert_failures -
							   g->ct_failures_seen[f]));
			g->ct_failures_seen[f] = st[f].insert_failures;
		}
	}
}

/* The next time anything is due: a check, or a verification overtaken by an apply. */
static uint64_t next_due_us(const struct guard *g)
{
	return g->next_verify_us && g->next_verify_us < g->next_tick_us ? g->next_verify_us
									 : g->next_tick_us;
}

int guard_next_ms(struct guard *g)
{
	uint64_t now = now_usec(), due;

	/* with its own thread, the guard needs nothing of the apply thread */
	if (!g || !engine_datapath(g->e) || g->thread_started)
		return -1;
	due = next_due_us(g);
	return due > now ? (int)((due - now) / 1000) : 0;
}

/*
 * One verification of the slots, when due. On its own thread it reads the maps while applies
 * go on (an apply that overtakes it makes it try again GUARD_VERIFY_RETRY_MS later), unless
 * the last concluded one started GUARD_VERIFY_HOLD_MS ago: then applies wait for it, which
 * keeps the repair bound under any rate of applies. Returns how many it repaired.
 */
static int verify(struct guard *g, struct datapath *dp, uint64_t now)
{
	bool hold = !g->thread_started || now - g->verified_us >= GUARD_VERIFY_HOLD_MS * 1000ull;
	int r = dp_verify_slots(dp, hold, report, g), repaired = 0;

	if (r == -EAGAIN) {
		atomic_fetch_add(&g->verifications[GV_OVERTAKEN], 1);
		g->next_verify_us = now_usec() + GUARD_VERIFY_RETRY_MS * 1000ull;
		return 0;
	}
	atomic_fetch_add(&g->verifications[hold && g->thread_started ? GV_HELD : GV_CONCLUDED],
			 1);
	g->verified_us = now;
	if (r == 1) {
		reenforce(g, dp);
		repaired++;
	}
	/*
	 * A large image is verified less often: GUARD_VERIFY_DUTY times its cost apart; a small
	 * one at most once a check (GUARD_PERIOD_MS).
	 */
	uint64_t apart = (now_usec() - now) * GUARD_VERIFY_DUTY;
	const uint64_t min_apart = GUARD_PERIOD_MS * 1000ull;
	const uint64_t max_apart = GUARD_VERIFY_EVERY_MAX_MS * 1000ull;

	g->next_verify_us = now + (apart < min_apart ? min_apart : apart < max_apart ? apart : max_apart);
	return repaired;
}

void guard_tick(struct guard *g)
{
	struct datapath *dp = g ? engine_datapath(g->e) : NULL;
	uint64_t now = now_usec();
	int repaired = 0;
	bool checked = false;

	if (!dp || now < next_due_us(g))
		return;
	if (now >= g->next_tick_us) {
		g->next_tick_us = now + GUARD_PERIOD_MS * 1000ull;
		ct_pressure(g, dp);
		repaired = dp_check_links(dp, report, g) + dp_check_pins(dp, report, g) +
			   dp_check_slot_maps(dp, report, g) +
			   dp_check_endpoint_entries(dp, report, g);
		checked = true;
	}
	if (now >= g->next_verify_us)
		repaired += verify(g, dp, now);
	if (!checked && !repaired)
		return; /* a verification retried: nothing else changed */
	guard_refresh(g);
	log_debug("guard: checked in %.1f ms%s", (double)(now_usec() - now) / 1000.0,
		  repaired ? ", repaired" : "");
}

static void *guard_main(void *arg)
{
	struct guard *g = arg;

	pthread_mutex_lock(&g->wake_lock);
	while (!g->stop) {
		uint64_t due = next_due_us(g), now = now_usec();

		if (now < due) {
			struct timespec ts = {.tv_sec = (time_t)(due / 1000000ull),
					      .tv_nsec = (long)(due % 1000000ull) * 1000L};

			pthread_cond_timedwait(&g->wake, &g->wake_lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&g->wake_lock);
		guard_tick(g);
		pthread_mutex_lock(&g->wake_lock);
	}
	pthread_mutex_unlock(&g->wake_lock);
	return NULL;
}

int guard_start(struct guard *g)
{
	int r;

	if (!g || !engine_datapath(g->e) || g->thread_started)
		return 0;
	g->verified_us = now_usec(); /* the hold bound counts from here */
	r = -pthread_create(&g->thread, NULL, guard_main, g);
	if (r) {
		log_warn("guard: no thread of its own (%s): checks run on the apply thread",
			 strerror(-r));
		return r;
	}
	pthread_setname_np(g->thread, "iofenced-guard");
	g->thread_started = true;
	return 0;
}

int guard_status(struct guard *g, struct arena *ar, Iofence__V1__GetStatusResponse *r)
{
	struct datapath *dp = g ? engine_datapath(g->e) : NULL;
	struct dp_ct_stats st[2];

	for (int w = 0; g && w < GW_MAX; w++)
		r->repairs += atomic_load(&g->repairs[w]);
	if (!dp || dp_read_ct_stats(dp, st))
		return 0;
	r->conntrack = arena_alloc(ar, 2 * sizeof(*r->conntrack));
	if (!r->conntrack)
		return -ENOMEM;
	for (int f = 0; f < 2; f++) {
		Iofence__V1__ConntrackStatus *c = arena_alloc(ar, sizeof(*c));

		if (!c)
			return -ENOMEM;
		iofence__v1__conntrack_status__init(c);
		c->family = f ? "ipv6" : "ipv4";
		c->entries = st[f].entries;
		c->capacity = st[f].capacity;
		c->inserts = st[f].inserts;
		c->deletes = st[f].deletes;
		c->insert_failures = st[f].insert_failures;
		c->evictions = st[f].evictions;
		r->conntrack[r->n_conntrack++] = c;
	}
	return 0;
}

/* The slots retired after flips (datapath.h, dp_read_slot_retire). */
static void write_retire_metrics(struct datapath *dp, FILE *f)
{
	struct dp_retire_figures r;

	dp_read_slot_retire(dp, &r);
	fprintf(f,
		"# HELP iofence_slot_flips_total Flips of the active slot.\n"
		"# TYPE iofence_slot_flips_total counter\n"
		"iofence_slot_flips_total %llu\n"
		"# HELP iofence_slots_retired_total Flips after which no program reads the slot left "
		"behind any more.\n"
		"# TYPE iofence_slots_retired_total counter\n"
		"iofence_slots_retired_total %llu\n"
		"# HELP iofence_slot_retire_grace_periods_total RCU grace periods waited for off the "
		"apply path after flips.\n"
		"# TYPE iofence_slot_retire_grace_periods_total counter\n"
		"iofence_slot_retire_grace_periods_total %llu\n"
		"# HELP iofence_slot_retire_grace_seconds_total Time those grace periods took.\n"
		"# TYPE iofence_slot_retire_grace_seconds_total counter\n"
		"iofence_slot_retire_grace_seconds_total %.6f\n"
		"# HELP iofence_slot_retire_grace_seconds_max The longest grace period.\n"
		"# TYPE iofence_slot_retire_grace_seconds_max gauge\n"
		"iofence_slot_retire_grace_seconds_max %.6f\n"
		"# HELP iofence_slot_retire_waits_total Applies that found the slot they write still "
		"read by programs and waited for its retirement.\n"
		"# TYPE iofence_slot_retire_waits_total counter\n"
		"iofence_slot_retire_waits_total %llu\n"
		"# HELP iofence_slot_retire_wait_seconds_total Time applies waited for retirements.\n"
		"# TYPE iofence_slot_retire_wait_seconds_total counter\n"
		"iofence_slot_retire_wait_seconds_total %.6f\n",
		(unsigned long long)r.flips, (unsigned long long)r.retired,
		(unsigned long long)r.grace_periods, (double)r.grace_usec_total / 1e6,
		(double)r.grace_usec_max / 1e6, (unsigned long long)r.writes_waited,
		(double)r.wait_usec_total / 1e6);
}

void guard_write_metrics(struct guard *g, FILE *f)
{
	struct datapath *dp = g ? engine_datapath(g->e) : NULL;
	struct dp_ct_stats st[2];

	fprintf(f, "# HELP iofence_repairs_total Datapath state found changed and repaired.\n"
		   "# TYPE iofence_repairs_total counter\n");
	for (int w = 0; w < GW_MAX; w++)
		fprintf(f, "iofence_repairs_total{what=\"%s\"} %llu\n", what_names[w],
			(unsigned long long)(g ? atomic_load(&g->repairs[w]) : 0));
	fprintf(f, "# HELP iofence_guard_verifications_total Verifications of the slots' policy "
		   "maps: concluded beside applies, overtaken by an apply (tried again), held "
		   "(applies waited for it).\n"
		   "# TYPE iofence_guard_verifications_total counter\n");
	for (int v = 0; v < GV_MAX; v++)
		fprintf(f, "iofence_guard_verifications_total{result=\"%s\"} %llu\n",
			verify_result_names[v],
			(unsigned long long)(g ? atomic_load(&g->verifications[v]) : 0));
	if (!dp)
		return;
	write_retire_metrics(dp, f);
	if (dp_read_ct_stats(dp, st))
		return;
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
#define M(n, t, h, field) {"iofence_conntrack_" n, t, h, offsetof(struct dp_ct_stats, field)}
	    M("entries", "gauge", "Tracked flows (inserts - deletes - evictions).", entries),
	    M("capacity", "gauge", "Capacity of the conntrack table.", capacity),
	    M("inserts_total", "counter", "Flows tracked.", inserts),
	    M("insert_failures_total", "counter", "New flows the table refused.", insert_failures),
	    M("evictions_total", "counter", "Entries the LRU dropped (a lower bound).", evictions),
#undef M
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m[i].name, m[i].help, m[i].name,
			m[i].type);
		for (int fam = 0; fam < 2; fam++)
			fprintf(f, "%s{family=\"%s\"} %llu\n", m[i].name, fam ? "ipv6" : "ipv4",
				(unsigned long long)*(const uint64_t *)((const char *)&st[fam] +
									m[i].off));
	}
	fprintf(f, "# HELP iofence_conntrack_fill_ratio Entries over capacity.\n"
		   "# TYPE iofence_conntrack_fill_ratio gauge\n");
	for (int fam = 0; fam < 2; fam++)
		fprintf(f, "iofence_conntrack_fill_ratio{family=\"%s\"} %.4f\n",
			fam ? "ipv6" : "ipv4",
			st[fam].capacity ? (double)st[fam].entries / (double)st[fam].capacity : 0.0);
}
