package fraudstream.flink;

import java.math.BigDecimal;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.table.annotation.ArgumentHint;
import org.apache.flink.table.annotation.ArgumentTrait;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.StateHint;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.types.Row;

/**
 * The 10-minute card window of the cc-agg job, with per-card event-time semantics.
 *
 * <p>Two clocks, kept apart on purpose:
 *
 * <ul>
 *   <li><b>Event time</b> ({@code trans_time}, a column) decides what a row <i>is</i>: its window
 *       [trans_time - window, trans_time] over the card's rows, and whether it is late. Lateness is
 *       per card: a row more than {@code allowed_delay_ms} before the newest trans_time already read
 *       for its card is emitted at once as {@code kind = 'late'} (the job sends it to dead-letter
 *       with the reason) and changes nothing.
 *   <li><b>Arrival time</b> (the Kafka record's log-append timestamp, the call's {@code on_time})
 *       decides <i>when</i> a row is emitted: once the arrival watermark has passed the row's arrival
 *       plus {@code allowed_delay_ms}. Every row read before then is in its window: peers with the
 *       same trans_time (SQL RANGE counts them) and stragglers of the card up to the allowed delay.
 *       Append times only grow within a partition, so no row is ever behind this watermark; the
 *       stream clock's heartbeats move it on every partition when traffic is quiet.
 * </ul>
 *
 * <p>Why not Flink's OVER window on trans_time: the watermark is global (the minimum over
 * partitions), so in a burst-produced backlog, a catch-up after a restart or a backfill behind live
 * traffic it runs far ahead of rows that are in order for their cards, and the OVER operator then
 * clears a card's state (1.5 windows past the card's last row) before the card's next row arrives.
 * Here a card's rows are pruned by the card's own event time only.
 *
 * <p>Amounts are DECIMAL(12, 2), summed exactly as cents; the SQL around the call turns the sum
 * into the mean exactly as Spark does. State per card: its newest trans_time and its rows of the
 * last window (plus rows waiting to be emitted).
 */
@DataTypeHint(
        "ROW<kind STRING, tid STRING, amount DECIMAL(12, 2), trans_time TIMESTAMP(3), "
                + "num_trans_last_10m BIGINT, sum_amt_last_10m DECIMAL(38, 2), max_amt_last_10m DECIMAL(12, 2), "
                + "card_newest_time TIMESTAMP(3), payload STRING, src_partition INT, src_offset BIGINT, merchant STRING>")
public class CardWindow extends ProcessTableFunction<Row> {

    public static final String AGG = "agg";
    public static final String LATE = "late";

    /** What the function keeps per card. Public fields: Flink persists them as a structured type. */
    public static class CardState {
        /** Newest trans_time read for the card (epoch ms); null before the first row. */
        public Long newest;
        public Long allowedDelayMs;
        public Long windowMs;
        /** The card's rows that a future computation may need, sorted by trans_time. */
        public List<Long> times;
        public List<Long> cents;
        /** Rows not emitted yet: trans_time, amount, tid and when they are due (arrival + delay + 1). */
        public List<Long> pendingTimes;
        public List<Long> pendingCents;
        public List<String> pendingTids;
        public List<Long> pendingDue;
    }

    /**
     * The pending rows' optional merchant (null: none), in the order of {@link CardState}'s pending
     * lists; passed through to cc-agg unchanged. A state entry of its own, not a field of CardState:
     * a changed CardState type is incompatible with the state of a savepoint taken before it (Flink
     * refuses the restore, StateMigrationException), while a new entry starts empty.
     */
    public static class MerchantState {
        public List<String> pending;
    }

    public void eval(
            Context ctx,
            @StateHint CardState state,
            @StateHint MerchantState merchants,
            @ArgumentHint(value = {ArgumentTrait.SET_SEMANTIC_TABLE, ArgumentTrait.REQUIRE_ON_TIME}, name = "input")
                    Row input,
            @ArgumentHint(name = "allowed_delay_ms") Long allowedDelayMs,
            @ArgumentHint(name = "window_ms") Long windowMs) {
        init(state, allowedDelayMs, windowMs);
        initMerchants(merchants, state);
        LocalDateTime transTime = input.getFieldAs("trans_time");
        long time = toEpochMillis(transTime);
        BigDecimal amount = input.getFieldAs("amount");
        String tid = input.getFieldAs("tid");
        if (state.newest != null && time < state.newest - state.allowedDelayMs) {
            collect(Row.of(LATE, tid, amount, transTime, null, null, null, toTimestamp(state.newest),
                    input.getFieldAs("payload"), input.getFieldAs("partition"), input.getFieldAs("offset"),
                    input.getFieldAs("merchant")));
            return;
        }
        long cents = amount.setScale(2).unscaledValue().longValueExact();
        int at = insertAt(state.times, time);
        state.times.add(at, time);
        state.cents.add(at, cents);
        int pendingAt = insertAt(state.pendingTimes, time);
        long due = ctx.timeContext(Long.class).time() + state.allowedDelayMs + 1;
        state.pendingTimes.add(pendingAt, time);
        state.pendingCents.add(pendingAt, cents);
        state.pendingTids.add(pendingAt, tid);
        state.pendingDue.add(pendingAt, due);
        merchants.pending.add(pendingAt, input.getFieldAs("merchant"));
        state.newest = state.newest == null ? time : Math.max(state.newest, time);
        ctx.timeContext(Long.class).registerOnTime(due);
    }

    public void onTimer(OnTimerContext ctx, CardState state, MerchantState merchants) {
        if (state.pendingTimes == null || state.pendingTimes.isEmpty()) {
            return;
        }
        initMerchants(merchants, state);
        long fired = ctx.timeContext(Long.class).time();
        int i = 0;
        while (i < state.pendingTimes.size()) {
            if (state.pendingDue.get(i) > fired) {
                i++;
                continue;
            }
            long time = state.pendingTimes.get(i);
            long count = 0;
            long sum = 0;
            long max = Long.MIN_VALUE;
            for (int j = 0; j < state.times.size(); j++) {
                long t = state.times.get(j);
                if (t > time) {
                    break;
                }
                if (t >= time - state.windowMs) {
                    long c = state.cents.get(j);
                    count++;
                    sum += c;
                    max = Math.max(max, c);
                }
            }
            collect(Row.of(AGG, state.pendingTids.get(i), BigDecimal.valueOf(state.pendingCents.get(i), 2),
                    toTimestamp(time), count, BigDecimal.valueOf(sum, 2), BigDecimal.valueOf(max, 2),
                    toTimestamp(state.newest), null, null, null, merchants.pending.get(i)));
            state.pendingTimes.remove(i);
            state.pendingCents.remove(i);
            state.pendingTids.remove(i);
            state.pendingDue.remove(i);
            merchants.pending.remove(i);
        }
        prune(state);
    }

    /** Drop rows no future computation can reach: before (oldest pending or newest - delay) - window. */
    private static void prune(CardState state) {
        long horizon = state.newest - state.allowedDelayMs;
        if (!state.pendingTimes.isEmpty()) {
            horizon = Math.min(horizon, state.pendingTimes.get(0));
        }
        long keepFrom = horizon - state.windowMs;
        int drop = 0;
        while (drop < state.times.size() && state.times.get(drop) < keepFrom) {
            drop++;
        }
        if (drop > 0) {
            state.times.subList(0, drop).clear();
            state.cents.subList(0, drop).clear();
        }
    }

    private static void init(CardState state, Long allowedDelayMs, Long windowMs) {
        state.allowedDelayMs = allowedDelayMs == null ? 0L : allowedDelayMs;
        state.windowMs = windowMs;
        if (state.times == null) {
            state.times = new ArrayList<>();
            state.cents = new ArrayList<>();
        }
        if (state.pendingTimes == null) {
            state.pendingTimes = new ArrayList<>();
            state.pendingCents = new ArrayList<>();
            state.pendingTids = new ArrayList<>();
            state.pendingDue = new ArrayList<>();
        }
    }

    /** Rows pending in the state of a job from before merchants (restored from its savepoint) had none. */
    private static void initMerchants(MerchantState merchants, CardState state) {
        if (merchants.pending == null) {
            merchants.pending = new ArrayList<>();
        }
        while (merchants.pending.size() < state.pendingTimes.size()) {
            merchants.pending.add(0, null);
        }
    }

    /** Where a row of this time goes, keeping time order; rows with the same time keep arrival order. */
    private static int insertAt(List<Long> times, long time) {
        int at = times.size();
        while (at > 0 && times.get(at - 1) > time) {
            at--;
        }
        return at;
    }

    private static long toEpochMillis(LocalDateTime value) {
        return value.toEpochSecond(ZoneOffset.UTC) * 1000L + value.getNano() / 1_000_000;
    }

    private static LocalDateTime toTimestamp(long epochMillis) {
        return LocalDateTime.ofEpochSecond(Math.floorDiv(epochMillis, 1000L),
                (int) Math.floorMod(epochMillis, 1000L) * 1_000_000, ZoneOffset.UTC);
    }
}
