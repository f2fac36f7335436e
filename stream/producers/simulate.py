"""A deterministic synthetic social world that emits interaction events.

Why: the scoring pipeline needs realistic-looking traffic with a *known* ground
truth (latent influence, bot accounts) so demos and tests can check that scores
track real influence and that bot amplification is caught.  Everything here is
standard library only and pure: no Kafka, no clock, no I/O.  The same seed always
yields the same events, in the project's event contract format, sorted by ``ts``.

Generation works in windows of (at most) one simulated day: every event that
originates in the window is built, the batch is sorted, and only the part that
falls before the window's end is emitted; late engagements carry over to the
next window.  Memory therefore stays around one day of events.
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from stream.events.validate import load_schema

__all__ = ["EVENT_TYPES", "SimUser", "World", "WorldConfig"]

Event = dict[str, object]

DAY_MS = 86_400_000
MINUTE_MS = 60_000

#: Every event type the contract allows (read from schemas/interaction.schema.json, its one home).
EVENT_TYPES: frozenset[str] = frozenset(load_schema("interaction")["properties"]["type"]["enum"])

# --- tuning knobs (module-level so the dynamics read in one place) -----------
_PARETO_ALPHA = 1.7  # latent influence tail; most users low, a few stars
_INFLUENCE_SCALE = 0.03  # influence = 1 - exp(-scale * Pareto): soft cap below 1
_ENGAGE_BASE = 1.5  # mean engagements per post = base + scale * influence**exp
_ENGAGE_SCALE = 120.0
_ENGAGE_EXP = 1.2
_ENGAGE_CAP = 400.0
_OFF_TOPIC_SHARE = 0.15  # share of engagers drawn from everyone, not the topic
_HOME_NETWORK_SHARE = 0.8  # posts made on the author's home network
_MENTIONS_PER_USER_DAY = 0.15  # stand-alone mentions (no post involved)
_FOLLOWS_PER_USER_DAY = 0.25
_UNFOLLOWS_PER_USER_DAY = 0.02
_FAST_DELAY_MS = 20 * MINUTE_MS  # most reactions come quickly ...
_SLOW_DELAY_MS = 180 * MINUTE_MS  # ... a tail arrives hours later
_FAST_SHARE = 0.7
_DIURNAL_AMPLITUDE = 0.6  # humans are busier in the evening (UTC), bots are flat
_BOT_ACTIONS_PER_DAY = (100.0, 300.0)
_BOT_CLIENT_SHARE = 0.7  # bot actions aimed at their paying "clients"
_BOT_LIKE_SHARE = 0.65
_RECENT_POSTS_PER_USER = 5
_BOT_RANDOM_POST_WINDOW = 500  # bots hit one of the latest N posts when roaming
_REPOST_NAME = {"twitter": "retweet"}  # everything else calls it "share"
_COMMENT_NETWORKS = frozenset({"youtube", "instagram", "facebook"})

_ts_key = itemgetter("ts")


@dataclass(frozen=True)
class WorldConfig:
    """Knobs for a simulated world; defaults give ~100k events over a week."""

    users: int = 2000
    days: float = 7.0
    seed: int = 0
    start_ms: int = 1767225600000  # 2026-01-01T00:00:00Z
    bots: int = 20  # number of bot accounts
    networks: tuple[str, ...] = ("twitter", "instagram", "youtube", "linkedin", "facebook")
    topics: tuple[str, ...] = (
        "coffee",
        "football",
        "ai",
        "music",
        "travel",
        "birds",
        "politics",
        "fashion",
    )
    posts_per_user_day: float = 0.6  # mean, scaled by activity

    def __post_init__(self) -> None:
        """Fail early on configs that would make an empty or broken world."""
        if self.users < 1:
            raise ValueError("users must be >= 1")
        if self.bots < 0:
            raise ValueError("bots must be >= 0")
        if not self.days > 0:
            raise ValueError("days must be > 0")
        if self.posts_per_user_day < 0:
            raise ValueError("posts_per_user_day must be >= 0")
        if not self.networks or any(n != n.lower() or not n for n in self.networks):
            raise ValueError("networks must be non-empty lowercase names")
        if not self.topics:
            raise ValueError("topics must be non-empty")


@dataclass(frozen=True)
class SimUser:
    """One account with its hidden ground truth (what scores should recover)."""

    user_id: str  # "u0000123"-style, zero-padded, stable per index
    influence: float  # latent true influence in (0, 1]; power-law distributed
    activity: float  # how often they post/engage (lognormal-ish)
    is_bot: bool
    home_network: str
    topics: tuple[str, ...]  # 1-3 topics of expertise
    followers: int  # power-law audience size


@dataclass
class _Bot:
    """Mutable schedule of one bot: fixed clients and a metronome-like clock."""

    index: int  # position in World.users
    clients: tuple[int, ...]  # human indices it amplifies
    period_ms: float
    created_ms: int
    next_ms: float
    introduced: bool = False


# A post as remembered for later reactions: (ts, content_id, author, topics, network).
_Post = tuple[int, str, int, list[str], str]


@dataclass
class _State:
    """Everything one run of the world mutates; a fresh one per events()/live()."""

    rng: random.Random
    post_prefix: str
    bots: list[_Bot]
    post_seq: int = 0
    user_posts: list[list[_Post]] = field(default_factory=list)
    prev_posts: list[_Post] = field(default_factory=list)
    follow_pairs: list[tuple[int, int]] = field(default_factory=list)
    follow_set: set[tuple[int, int]] = field(default_factory=set)


def _poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw: Knuth for small means, normal approximation for large."""
    if mean <= 0.0:
        return 0
    if mean < 30.0:
        limit = math.exp(-mean)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(rng.gauss(mean, math.sqrt(mean)) + 0.5))


def _clip_sentiment(x: float) -> float:
    """Clamp to the contract's [-1, 1] and keep three decimals for readability."""
    return round(-1.0 if x < -1.0 else 1.0 if x > 1.0 else x, 3)


class World:
    """A fixed population of humans and bots whose behaviour yields events."""

    def __init__(self, config: WorldConfig) -> None:
        """Draw the population once so every run of this world shares it."""
        self.config = config
        rng = random.Random(config.seed)
        cfg = config
        users: list[SimUser] = []
        for i in range(cfg.users):
            # Soft cap keeps the stars strictly ordered instead of tied at 1.
            influence = -math.expm1(-_INFLUENCE_SCALE * rng.paretovariate(_PARETO_ALPHA))
            # Mean ~1 lognormal; stars are a little more active than average.
            activity = rng.lognormvariate(-0.32, 0.8) * (1.0 + influence)
            n_topics = min(len(cfg.topics), rng.choice((1, 1, 2, 2, 2, 3)))
            followers = 100_000 * influence**2.5 * rng.lognormvariate(0.0, 0.5)
            users.append(
                SimUser(
                    user_id=f"u{i:07d}",
                    influence=influence,
                    activity=activity,
                    is_bot=False,
                    home_network=rng.choice(cfg.networks),
                    topics=tuple(rng.sample(cfg.topics, n_topics)),
                    followers=int(min(100_000.0, max(1.0, followers))),
                )
            )
        bot_rates: list[float] = []
        for b in range(cfg.bots):
            rate = rng.uniform(*_BOT_ACTIONS_PER_DAY)
            bot_rates.append(rate)
            n_topics = min(len(cfg.topics), rng.randint(1, 3))
            users.append(
                SimUser(
                    user_id=f"bot{b + 1:04d}",
                    influence=rng.uniform(0.0005, 0.003),
                    activity=rate / 10.0,
                    is_bot=True,
                    home_network=rng.choice(cfg.networks),
                    topics=tuple(rng.sample(cfg.topics, n_topics)),
                    followers=rng.randint(1, 40),
                )
            )
        self.users: list[SimUser] = users
        self._n_humans = cfg.users
        humans = users[: cfg.users]

        # Precomputed lookup tables keep the per-event work to a few draws.
        self._ids = [u.user_id for u in users]
        self._home = [u.home_network for u in users]
        self._engage_mean = [
            min(_ENGAGE_CAP, _ENGAGE_BASE + _ENGAGE_SCALE * u.influence**_ENGAGE_EXP) for u in humans
        ]
        self._human_idx = list(range(cfg.users))
        self._activity_cw = list(itertools.accumulate(u.activity for u in humans))
        self._influence_cw = list(itertools.accumulate(u.influence for u in humans))
        # Follows chase stars harder than mentions do (preferential attachment).
        self._follow_cw = list(itertools.accumulate(u.influence**1.5 for u in humans))
        self._topic_pool: dict[str, tuple[list[int], list[float]]] = {}
        for topic in cfg.topics:
            idx = [i for i, u in enumerate(humans) if topic in u.topics]
            cw = list(itertools.accumulate(humans[i].activity for i in idx))
            self._topic_pool[topic] = (idx, cw)
        self._repost = {n: _REPOST_NAME.get(n, "share") for n in cfg.networks}
        self._reply = {n: "comment" if n in _COMMENT_NETWORKS else "reply" for n in cfg.networks}
        self._total_post_rate = cfg.posts_per_user_day * self._activity_cw[-1]
        # Bots' clients: active posters are the ones who'd buy amplification.
        self._bot_clients: list[tuple[int, ...]] = []
        for _ in range(cfg.bots):
            k = min(cfg.users, rng.randint(1, 3))
            picks = rng.choices(self._human_idx, cum_weights=self._activity_cw, k=k * 4)
            self._bot_clients.append(tuple(dict.fromkeys(picks))[:k])
        self._bot_rates = bot_rates

    # --- public API -----------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """The whole world, time-ordered; identical on every call for a seed."""
        cfg = self.config
        end_ms = cfg.start_ms + int(cfg.days * DAY_MS)
        state = self._new_state(
            random.Random(f"sway-sim:{cfg.seed}:events"),
            cfg.start_ms,
            bot_span_ms=(end_ms - cfg.start_ms) // 2,
            post_prefix="p",
        )
        return self._run(state, cfg.start_ms, end_ms, f"sim-{cfg.seed}-")

    def live(self, start_ms: int) -> Iterator[Event]:
        """Endless stream with the same users and dynamics, ts from ``start_ms``.

        Ids carry ``start_ms`` ("sim-<seed>-live<start>-<n>", posts
        "p<start>-<n>") so a live run never collides with a backfill made by
        ``events()`` of the same seed if both land on the same topic.
        """
        cfg = self.config
        state = self._new_state(
            random.Random(f"sway-sim:{cfg.seed}:live:{start_ms}"),
            start_ms,
            bot_span_ms=DAY_MS // 2,
            post_prefix=f"p{start_ms}-",
        )
        return self._run(state, start_ms, None, f"sim-{cfg.seed}-live{start_ms}-")

    # --- machinery ------------------------------------------------------------

    def _new_state(self, rng: random.Random, start_ms: int, bot_span_ms: int, post_prefix: str) -> _State:
        """Fresh mutable state; bots are 'created' at random times after start."""
        bots: list[_Bot] = []
        for b, (rate, clients) in enumerate(zip(self._bot_rates, self._bot_clients, strict=True)):
            created = start_ms + int(rng.random() * bot_span_ms)
            bots.append(
                _Bot(
                    index=self._n_humans + b,
                    clients=clients,
                    period_ms=DAY_MS / rate,
                    created_ms=created,
                    next_ms=created + MINUTE_MS * rng.uniform(1.0, 5.0),
                )
            )
        return _State(
            rng=rng,
            post_prefix=post_prefix,
            bots=bots,
            user_posts=[[] for _ in range(self._n_humans)],
        )

    def _run(self, state: _State, start_ms: int, end_ms: int | None, id_prefix: str) -> Iterator[Event]:
        """Generate window by window, emit the sorted part before each window end."""
        carry: list[Event] = []
        n = 0
        w0 = start_ms
        while end_ms is None or w0 < end_ms:
            w1 = w0 + DAY_MS if end_ms is None else min(w0 + DAY_MS, end_ms)
            batch = carry
            self._window(state, w0, w1, batch)
            batch.sort(key=_ts_key)  # stable: ties keep generation order
            cut = bisect_left(batch, w1, key=_ts_key)
            for i in range(cut):
                ev = batch[i]
                ev["event_id"] = f"{id_prefix}{n}"
                n += 1
                yield ev
            carry = batch[cut:]
            w0 = w1
        # Reactions that would land after the world ends are simply not emitted.

    def _diurnal_times(self, rng: random.Random, n: int, w0: int, w1: int) -> list[int]:
        """n sorted human timestamps in [w0, w1), denser in the (UTC) evening."""
        span = w1 - w0
        rand = rng.random
        cos = math.cos
        two_pi_per_day = 2.0 * math.pi / DAY_MS
        peak = 0.75 * DAY_MS  # 18:00 UTC
        norm = 1.0 + _DIURNAL_AMPLITUDE
        out: list[int] = []
        while len(out) < n:
            t = w0 + int(rand() * span)
            if rand() * norm < 1.0 + _DIURNAL_AMPLITUDE * cos((t - peak) * two_pi_per_day):
                out.append(t)
        out.sort()
        return out

    def _window(self, st: _State, w0: int, w1: int, out: list[Event]) -> None:
        """Append every event originating in [w0, w1) to ``out`` (unsorted)."""
        rng = st.rng
        rand = rng.random
        choices = rng.choices
        expo = rng.expovariate
        gauss = rng.gauss
        ids = self._ids
        home = self._home
        networks = self.config.networks
        frac_day = (w1 - w0) / DAY_MS
        humans = self._human_idx
        act_cw = self._activity_cw
        inf_cw = self._influence_cw
        append = out.append

        # 1. Posts, each followed by its engagement cascade.
        n_posts = _poisson(rng, self._total_post_rate * frac_day)
        times = self._diurnal_times(rng, n_posts, w0, w1)
        authors = choices(humans, cum_weights=act_cw, k=n_posts)
        users = self.users
        cur_posts: list[_Post] = []
        engage_mean = self._engage_mean
        topic_pool = self._topic_pool
        repost = self._repost
        reply = self._reply
        fast_rate = 1.0 / _FAST_DELAY_MS
        slow_rate = 1.0 / _SLOW_DELAY_MS
        for ts, author in zip(times, authors, strict=True):
            user = users[author]
            ut = user.topics
            topics = list(ut) if len(ut) == 1 else rng.sample(ut, 1 if rand() < 0.5 else 2)
            net = home[author] if rand() < _HOME_NETWORK_SHARE else rng.choice(networks)
            st.post_seq += 1
            pid = f"{st.post_prefix}{st.post_seq}"
            aid = ids[author]
            append(
                {
                    "event_id": "",
                    "type": "post",
                    "network": net,
                    "actor_id": aid,
                    "content_id": pid,
                    "topics": topics,
                    "ts": ts,
                }
            )
            post: _Post = (ts, pid, author, topics, net)
            cur_posts.append(post)
            mine = st.user_posts[author]
            mine.append(post)
            if len(mine) > _RECENT_POSTS_PER_USER:
                del mine[0]

            k = _poisson(rng, engage_mean[author])
            if not k:
                continue
            pool, pool_cw = topic_pool[topics[0] if len(topics) == 1 else rng.choice(topics)]
            k_off = int(k * _OFF_TOPIC_SHARE + rand())
            engagers = choices(pool, cum_weights=pool_cw, k=k - k_off)
            if k_off:
                engagers += choices(humans, cum_weights=act_cw, k=k_off)
            rp = repost[net]
            rc = reply[net]
            for e in dict.fromkeys(engagers):  # one reaction per person per post
                if e == author:
                    continue
                delay = expo(fast_rate) if rand() < _FAST_SHARE else expo(slow_rate)
                ets = ts + 1000 + int(delay)
                r = rand()
                if r < 0.55:
                    etype = "like"
                elif r < 0.75:
                    etype = rp
                elif r < 0.80:
                    etype = "quote"
                elif r < 0.95:
                    etype = rc
                else:
                    etype = "mention"
                ev: Event = {
                    "event_id": "",
                    "type": etype,
                    "network": net,
                    "actor_id": ids[e],
                    "target_id": aid,
                    "content_id": pid,
                    "topics": list(topics),
                    "ts": ets,
                }
                if r >= 0.80:  # reply/comment/mention carry a tone
                    ev["sentiment"] = _clip_sentiment(gauss(0.3, 0.4))
                append(ev)

        # 2. Stand-alone mentions: talk about someone, not about a post.
        n_mentions = _poisson(rng, _MENTIONS_PER_USER_DAY * len(humans) * frac_day)
        m_times = self._diurnal_times(rng, n_mentions, w0, w1)
        m_actors = choices(humans, cum_weights=act_cw, k=n_mentions)
        m_targets = choices(humans, cum_weights=inf_cw, k=n_mentions)
        for ts, a, t in zip(m_times, m_actors, m_targets, strict=True):
            if a == t:
                continue
            append(
                {
                    "event_id": "",
                    "type": "mention",
                    "network": home[a],
                    "actor_id": ids[a],
                    "target_id": ids[t],
                    "topics": [rng.choice(users[t].topics)],
                    "sentiment": _clip_sentiment(gauss(0.2, 0.5)),
                    "ts": ts,
                }
            )

        # 3. Follows drift towards influential users; a few unfollows.
        n_follows = _poisson(rng, _FOLLOWS_PER_USER_DAY * len(humans) * frac_day)
        f_times = self._diurnal_times(rng, n_follows, w0, w1)
        f_actors = choices(humans, cum_weights=act_cw, k=n_follows)
        f_targets = choices(humans, cum_weights=self._follow_cw, k=n_follows)
        for ts, a, t in zip(f_times, f_actors, f_targets, strict=True):
            if a != t:
                self._follow(st, a, t, ts, out)
        n_unfollows = _poisson(rng, _UNFOLLOWS_PER_USER_DAY * len(humans) * frac_day)
        for ts in self._diurnal_times(rng, n_unfollows, w0, w1):
            pairs = st.follow_pairs
            if not pairs:
                break
            j = int(rand() * len(pairs))
            a, t = pairs[j]
            if a >= self._n_humans:
                continue  # bots stay loyal to their clients
            pairs[j] = pairs[-1]
            pairs.pop()
            st.follow_set.discard((a, t))
            append(
                {
                    "event_id": "",
                    "type": "unfollow",
                    "network": home[t],
                    "actor_id": ids[a],
                    "target_id": ids[t],
                    "ts": ts,
                }
            )

        # 4. Bots: metronome-regular likes/reposts, mostly for their clients.
        recent = st.prev_posts + cur_posts
        recent_ts = [p[0] for p in recent]
        for bot in st.bots:
            if bot.created_ms >= w1:
                continue
            if not bot.introduced:
                bot.introduced = True
                for j, c in enumerate(bot.clients):
                    self._follow(st, bot.index, c, bot.created_ms + 1000 * (j + 1), out)
            self._bot_actions(st, bot, w1, recent, recent_ts, out)
        st.prev_posts = cur_posts

    def _follow(self, st: _State, a: int, t: int, ts: int, out: list[Event]) -> None:
        """Emit a follow unless ``a`` already follows ``t`` in this run."""
        if (a, t) in st.follow_set:
            return
        st.follow_set.add((a, t))
        st.follow_pairs.append((a, t))
        out.append(
            {
                "event_id": "",
                "type": "follow",
                "network": self._home[t],
                "actor_id": self._ids[a],
                "target_id": self._ids[t],
                "ts": ts,
            }
        )

    def _bot_actions(
        self,
        st: _State,
        bot: _Bot,
        w1: int,
        recent: Sequence[_Post],
        recent_ts: Sequence[int],
        out: list[Event],
    ) -> None:
        """Advance one bot's clock to ``w1``, emitting its likes and reposts."""
        rand = st.rng.random
        ids = self._ids
        actor = ids[bot.index]
        bot_net = self._home[bot.index]
        repost = self._repost
        clients = bot.clients
        user_posts = st.user_posts
        period = bot.period_ms
        t = bot.next_ms
        append = out.append
        while t < w1:
            ts = int(t)
            post: _Post | None = None
            target = -1
            if rand() < _BOT_CLIENT_SHARE:
                target = clients[int(rand() * len(clients))]
                mine = [p for p in user_posts[target] if p[0] <= ts]
                if mine:
                    post = mine[int(rand() * len(mine))]
            else:
                hi = bisect_right(recent_ts, ts)
                if hi:
                    post = recent[hi - 1 - int(rand() * min(hi, _BOT_RANDOM_POST_WINDOW))]
                else:
                    target = int(rand() * self._n_humans)
            if post is not None:
                _p_ts, pid, author, topics, net = post
                ev: Event = {
                    "event_id": "",
                    "type": "like" if rand() < _BOT_LIKE_SHARE else repost[net],
                    "network": net,
                    "actor_id": actor,
                    "target_id": ids[author],
                    "content_id": pid,
                    "topics": list(topics),
                    "ts": ts,
                }
            else:  # nothing to react to yet: a bare profile like
                ev = {
                    "event_id": "",
                    "type": "like",
                    "network": bot_net,
                    "actor_id": actor,
                    "target_id": ids[target],
                    "ts": ts,
                }
            append(ev)
            t += period * (0.85 + 0.3 * rand())
        bot.next_ms = t
