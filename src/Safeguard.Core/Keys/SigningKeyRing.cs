using System.Buffers;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Safeguard.Keys;

/// <summary>
/// The signing keys, their rotation and their publication. A new key is created ahead of use and published
/// (pending) for <see cref="KeyRingOptions.PropagationTime"/> before it signs; the key it replaces keeps verifying
/// for <see cref="KeyRingOptions.RetentionDuration"/>; a revoked key stops verifying at once. States follow from
/// each key's timestamps and the clock, so every node sharing a store agrees on them without talking.
/// </summary>
public sealed partial class SigningKeyRing : IVerificationKeySource, IDisposable
{
    private readonly ISigningKeyStore _store;
    private readonly IKeyProtector _protector;
    private readonly KeyRingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SigningKeyRing> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _snapshotLock = new();
    private IReadOnlyList<SigningKey> _keys = [];

    // Keys the ring stopped holding, with when (Stopwatch ticks). A validator or issuer may have looked one up a moment
    // before it was dropped, so it is disposed only once it has been out of the ring for DroppedKeyGrace.
    private List<(SigningKey Key, long DroppedAt)> _dropped = [];
    private Snapshot _snapshot = Snapshot.Empty;

    /// <summary>Creates a key ring over a store. Call <see cref="EnsureKeysAsync"/> before the first token is signed.</summary>
    /// <param name="store">Where keys are kept.</param>
    /// <param name="protector">Encrypts private keys at rest.</param>
    /// <param name="options">Rotation settings.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">The operational log (never key material).</param>
    public SigningKeyRing(
        ISigningKeyStore store,
        IKeyProtector protector,
        IOptions<KeyRingOptions> options,
        TimeProvider timeProvider,
        ILogger<SigningKeyRing> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(protector);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _protector = protector;
        _options = OptionsGuard.Validated(new KeyRingOptionsValidator(), options);
        _time = timeProvider;
        _logger = logger;
    }

    /// <inheritdoc />
    public event EventHandler<KeyRevokedEventArgs>? KeyRevoked;

    /// <summary>Raised whenever a key is created or enters a new state, for the audit trail.</summary>
    public event EventHandler<KeyLifecycleEventArgs>? LifecycleChanged;

    /// <summary>How long a key the ring stopped holding is kept before it is disposed. One minute; tests shorten it.</summary>
    internal TimeSpan DroppedKeyGrace { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The ring's settings.</summary>
    public KeyRingOptions Options => _options;

    /// <summary>Every key the ring holds (pending, active, retired and revoked ones not yet purged).</summary>
    public IReadOnlyList<SigningKey> Keys => _keys;

    /// <summary>
    /// Scheduled maintenance: reloads the store, deletes keys past retention, makes sure a key is active (creating
    /// the first one, or replacing a revoked one at once) and creates the successor when rotation is due, so it is
    /// published <see cref="KeyRingOptions.PropagationTime"/> before it signs. Call it at start-up and periodically.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store I/O.</param>
    /// <returns>A task that completes when the store and the ring agree.</returns>
    public async Task EnsureKeysAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var records = await LoadAndPurgeAsync(now, cancellationToken).ConfigureAwait(false);
            var active = CurrentActive(records, now);
            if (active is null)
            {
                var pending = records
                    .Where(r => r.GetState(now, _options.RetentionDuration) == KeyState.Pending)
                    .OrderBy(r => r.ActivatesAt)
                    .FirstOrDefault();
                if (pending is not null)
                {
                    // No key can sign (the active one was revoked): the published successor takes over early.
                    active = await UpdateRecordAsync(pending, r => r with { ActivatesAt = now }, cancellationToken).ConfigureAwait(false);
                    LogPromotedEarly(active.KeyId);
                    records = Replace(records, active);
                }
                else
                {
                    var created = await CreateKeyAsync(now, now, cancellationToken).ConfigureAwait(false);
                    records = [.. records, created];
                    active = created;
                }
            }

            var hasSuccessor = records.Any(r => r.GetState(now, _options.RetentionDuration) == KeyState.Pending);
            if (!hasSuccessor && now >= active.ActivatesAt + _options.RotationInterval - _options.PropagationTime)
            {
                var activatesAt = Max(now + _options.PropagationTime, active.ActivatesAt + _options.RotationInterval);
                records = await AddSuccessorAsync(records, active, now, activatesAt, cancellationToken).ConfigureAwait(false);
            }

            Install(records, now);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Starts a rotation now, ahead of schedule: a new key is published at once and signs after
    /// <see cref="KeyRingOptions.PropagationTime"/>. Does nothing if a successor is already pending.
    /// </summary>
    /// <param name="cancellationToken">Cancels the store I/O.</param>
    /// <returns>The pending key, new or already there.</returns>
    public async Task<SigningKey> RotateAsync(CancellationToken cancellationToken)
    {
        await EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var records = await LoadAndPurgeAsync(now, cancellationToken).ConfigureAwait(false);
            var pending = records.FirstOrDefault(r => r.GetState(now, _options.RetentionDuration) == KeyState.Pending);
            if (pending is null)
            {
                var active = CurrentActive(records, now)
                    ?? throw new InvalidOperationException("The key ring has no active key to rotate from.");
                records = await AddSuccessorAsync(records, active, now, now + _options.PropagationTime, cancellationToken)
                    .ConfigureAwait(false);
                Install(records, now);
                pending = records.First(r => r.GetState(now, _options.RetentionDuration) == KeyState.Pending);
            }

            return _keys.First(k => k.KeyId == pending.KeyId);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Revokes a key: from this instant it neither signs, verifies nor is published, and tokens it verified are
    /// dropped from caches. Revoking the active key makes the pending successor (or a new key) active at once.
    /// </summary>
    /// <param name="keyId">The key to revoke.</param>
    /// <param name="cancellationToken">Cancels the store I/O.</param>
    /// <returns>False if no such key exists or it was already revoked.</returns>
    public async Task<bool> RevokeAsync(string keyId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var records = (await _store.GetAllAsync(cancellationToken).ConfigureAwait(false)).ToList();
            var target = records.FirstOrDefault(r => r.KeyId == keyId);
            if (target is null || target.RevokedAt is not null)
            {
                return false;
            }

            var revoked = await UpdateRecordAsync(target, r => r with { RevokedAt = now }, cancellationToken).ConfigureAwait(false);
            records = Replace(records, revoked);

            // A revoked successor must not leave its predecessor retiring into nothing.
            foreach (var predecessor in records.Where(r => r.RetiresAt == target.ActivatesAt && r.RevokedAt is null && r.ActivatesAt < target.ActivatesAt).ToList())
            {
                if (predecessor.GetState(now, _options.RetentionDuration) == KeyState.Active)
                {
                    var kept = await UpdateRecordAsync(predecessor, r => r with { RetiresAt = null }, cancellationToken).ConfigureAwait(false);
                    records = Replace(records, kept);
                }
            }

            Install(records, now);
            LogRevoked(keyId);
            KeyRevoked?.Invoke(this, new KeyRevokedEventArgs(keyId));
        }
        finally
        {
            _gate.Release();
        }

        // Replace a revoked active key (or a revoked successor) right away rather than at the next scheduled pass.
        await EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Reloads keys from the store without changing them (another node rotated or revoked).</summary>
    /// <param name="cancellationToken">Cancels the store I/O.</param>
    /// <returns>A task that completes when the ring holds what the store holds.</returns>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var before = _snapshot.Revoked;
            var records = await _store.GetAllAsync(cancellationToken).ConfigureAwait(false);
            Install(records, now);
            foreach (var kid in _snapshot.Revoked.Except(before))
            {
                KeyRevoked?.Invoke(this, new KeyRevokedEventArgs(kid));
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The key that signs now, or null if none is active (issuance then fails closed).</summary>
    /// <returns>The active key, holding its private key.</returns>
    public SigningKey? GetSigningKey() => GetSnapshot().Signing;

    /// <summary>The state of a key at this instant.</summary>
    /// <param name="key">A key of this ring.</param>
    /// <returns>Its state.</returns>
    public KeyState GetState(SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.GetState(_time.GetUtcNow(), _options.RetentionDuration);
    }

    /// <summary>The JWKS document (RFC 7517): pending, active and retired keys, public parameters only.</summary>
    /// <returns>UTF-8 JSON.</returns>
    public ReadOnlyMemory<byte> GetJwks() => GetSnapshot().Jwks;

    /// <inheritdoc />
    public KeyLookup FindKey(string keyId)
    {
        var snapshot = GetSnapshot();
        if (snapshot.Verification.TryGetValue(keyId, out var key))
        {
            return new KeyLookup(key, IsRevoked: false);
        }

        return new KeyLookup(null, snapshot.Revoked.Contains(keyId));
    }

    /// <summary>Frees every key the ring holds (their private halves included).</summary>
    public void Dispose()
    {
        lock (_snapshotLock)
        {
            foreach (var key in _keys.Concat(_dropped.Select(d => d.Key)))
            {
                key.Dispose();
            }

            _keys = [];
            _dropped = [];
            _snapshot = Snapshot.Empty;
        }

        _gate.Dispose();
    }

    private Snapshot GetSnapshot()
    {
        var snapshot = _snapshot;
        var now = _time.GetUtcNow();
        if (now < snapshot.ValidUntil)
        {
            return snapshot;
        }

        List<KeyLifecycleEventArgs>? changes = null;
        lock (_snapshotLock)
        {
            if (now >= _snapshot.ValidUntil)
            {
                changes = RebuildSnapshot(now);
            }

            snapshot = _snapshot;
        }

        Raise(changes);
        return snapshot;
    }

    private void Install(IReadOnlyList<StoredSigningKey> records, DateTimeOffset now)
    {
        var existing = _keys.ToDictionary(k => k.KeyId, StringComparer.Ordinal);
        var keys = new List<SigningKey>(records.Count);
        foreach (var record in records)
        {
            var state = record.GetState(now, _options.RetentionDuration);
            if (state == KeyState.Removed)
            {
                continue;
            }

            var needsPrivate = state is KeyState.Pending or KeyState.Active;
            // A record is reused unverified only if it is byte-for-byte the one already authenticated; a changed record
            // of a key already held is authenticated and takes over its imported keys.
            if (existing.TryGetValue(record.KeyId, out var known) && SameRecord(known.Record, record) && (known.HasPrivateKey || !needsPrivate))
            {
                keys.Add(known);
            }
            else
            {
                keys.Add(known is null ? SigningKey.Load(record, _protector, needsPrivate) : known.Refresh(record, _protector, needsPrivate));
            }
        }

        List<KeyLifecycleEventArgs> changes;
        List<SigningKey> toDispose;
        var droppedAt = Stopwatch.GetTimestamp();
        lock (_snapshotLock)
        {
            toDispose = [.. _dropped.Where(d => Stopwatch.GetElapsedTime(d.DroppedAt) >= DroppedKeyGrace).Select(d => d.Key)];
            _dropped = [.. _dropped.Where(d => !toDispose.Contains(d.Key)), .. _keys.Where(k => !keys.Contains(k)).Select(k => (k, droppedAt))];
            _keys = keys;
            changes = RebuildSnapshot(now);
        }

        foreach (var key in toDispose)
        {
            key.Dispose();
        }

        Raise(changes);
    }

    private static bool SameRecord(StoredSigningKey a, StoredSigningKey b) =>
        a.KeyId == b.KeyId && a.Algorithm == b.Algorithm && a.CreatedAt == b.CreatedAt && a.ActivatesAt == b.ActivatesAt
        && a.RetiresAt == b.RetiresAt && a.RevokedAt == b.RevokedAt
        && a.PublicKey.AsSpan().SequenceEqual(b.PublicKey) && a.ProtectedPrivateKey.AsSpan().SequenceEqual(b.ProtectedPrivateKey);

    /// <summary>Raises lifecycle events outside every lock; a failing handler is logged and cannot stop verification.</summary>
    private void Raise(List<KeyLifecycleEventArgs>? changes)
    {
        if (changes is null)
        {
            return;
        }

        foreach (var change in changes)
        {
            try
            {
                LifecycleChanged?.Invoke(this, change);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogHandlerFailed(ex, change.KeyId, change.State);
            }
        }
    }

    private List<KeyLifecycleEventArgs> RebuildSnapshot(DateTimeOffset now)
    {
        var changes = new List<KeyLifecycleEventArgs>();
        var retention = _options.RetentionDuration;
        var previous = _snapshot.States;
        var states = new Dictionary<string, KeyState>(StringComparer.Ordinal);
        var verification = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
        var revoked = new HashSet<string>(StringComparer.Ordinal);
        var published = new List<SigningKey>();
        SigningKey? signing = null;
        var validUntil = DateTimeOffset.MaxValue;
        foreach (var key in _keys)
        {
            var state = key.GetState(now, retention);
            states[key.KeyId] = state;
            switch (state)
            {
                case KeyState.Active:
                    verification[key.KeyId] = key;
                    published.Add(key);
                    if (key.HasPrivateKey && (signing is null || key.ActivatesAt > signing.ActivatesAt))
                    {
                        signing = key;
                    }

                    break;
                case KeyState.Retired:
                    verification[key.KeyId] = key;
                    published.Add(key);
                    break;
                case KeyState.Pending:
                    published.Add(key);
                    break;
                case KeyState.Revoked:
                    revoked.Add(key.KeyId);
                    break;
                case KeyState.Removed:
                    break;
            }

            foreach (var instant in Transitions(key, retention))
            {
                if (instant > now && instant < validUntil)
                {
                    validUntil = instant;
                }
            }

            if (previous.TryGetValue(key.KeyId, out var before) && before != state)
            {
                LogStateChanged(key.KeyId, state);
                changes.Add(new KeyLifecycleEventArgs(key.KeyId, key.Algorithm, state, created: false, now));
            }
        }

        _snapshot = new Snapshot(validUntil, signing, verification.ToFrozenDictionary(StringComparer.Ordinal),
            revoked.ToFrozenSet(StringComparer.Ordinal), WriteJwks(published), states);
        return changes;
    }

    private static IEnumerable<DateTimeOffset> Transitions(SigningKey key, TimeSpan retention)
    {
        yield return key.ActivatesAt;
        if (key.RetiresAt is { } retires)
        {
            yield return retires;
            yield return retires + retention;
        }

        if (key.RevokedAt is { } revoked)
        {
            yield return revoked;
        }
    }

    private static byte[] WriteJwks(IEnumerable<SigningKey> keys)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var key in keys.OrderByDescending(k => k.ActivatesAt))
            {
                key.PublicKey.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private async Task<List<StoredSigningKey>> LoadAndPurgeAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var records = await _store.GetAllAsync(cancellationToken).ConfigureAwait(false);
        var kept = new List<StoredSigningKey>(records.Count);
        foreach (var record in records)
        {
            var state = record.GetState(now, _options.RetentionDuration);
            var expired = state == KeyState.Removed
                || (state == KeyState.Revoked && now >= record.RevokedAt!.Value + _options.RetentionDuration);
            if (expired)
            {
                await _store.RemoveAsync(record.KeyId, cancellationToken).ConfigureAwait(false);
                LogPurged(record.KeyId);
            }
            else
            {
                kept.Add(record);
            }
        }

        return kept;
    }

    private StoredSigningKey? CurrentActive(IEnumerable<StoredSigningKey> records, DateTimeOffset now) =>
        records
            .Where(r => r.GetState(now, _options.RetentionDuration) == KeyState.Active)
            .OrderByDescending(r => r.ActivatesAt)
            .FirstOrDefault();

    private async Task<List<StoredSigningKey>> AddSuccessorAsync(
        List<StoredSigningKey> records, StoredSigningKey active, DateTimeOffset now, DateTimeOffset activatesAt, CancellationToken cancellationToken)
    {
        var successor = await CreateKeyAsync(now, activatesAt, cancellationToken).ConfigureAwait(false);
        var retiring = await UpdateRecordAsync(active, r => r with { RetiresAt = activatesAt }, cancellationToken).ConfigureAwait(false);
        records = Replace(records, retiring);
        records.Add(successor);
        return records;
    }

    /// <summary>Creates a key and stores it sealed; the ring loads it from its record like any other (the generated object is freed).</summary>
    private async Task<StoredSigningKey> CreateKeyAsync(DateTimeOffset now, DateTimeOffset activatesAt, CancellationToken cancellationToken)
    {
        using var key = SigningKey.Generate(_options.Algorithm, _options.RsaKeySize, now, activatesAt, _protector);
        await _store.AddAsync(key.Record, cancellationToken).ConfigureAwait(false);
        LogCreated(key.KeyId, key.Algorithm, activatesAt);
        var state = key.GetState(now, _options.RetentionDuration);
        Raise([new KeyLifecycleEventArgs(key.KeyId, key.Algorithm, state, created: true, now)]);
        return key.Record;
    }

    /// <summary>
    /// Changes a key's lifecycle timestamps: re-reads the record, applies the change, keeps a revocation that
    /// another writer made meanwhile (revocation is permanent), and re-seals the record under the KEK.
    /// </summary>
    private async Task<StoredSigningKey> UpdateRecordAsync(
        StoredSigningKey record, Func<StoredSigningKey, StoredSigningKey> change, CancellationToken cancellationToken)
    {
        var fresh = (await _store.GetAllAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(r => r.KeyId == record.KeyId)
            ?? throw new InvalidOperationException($"Signing key '{record.KeyId}' disappeared from the store.");
        var changed = change(fresh);
        if (fresh.RevokedAt is { } revokedAt)
        {
            changed = changed with { RevokedAt = revokedAt };
        }

        changed = SigningKey.Reseal(fresh, changed, _protector);
        await _store.UpdateAsync(changed, cancellationToken).ConfigureAwait(false);
        return changed;
    }

    private static List<StoredSigningKey> Replace(IEnumerable<StoredSigningKey> records, StoredSigningKey replacement) =>
        [.. records.Select(r => r.KeyId == replacement.KeyId ? replacement : r)];

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    [LoggerMessage(EventId = LogEvents.SigningKeyCreated, Level = LogLevel.Information, Message = "Signing key {KeyId} created ({Algorithm}); it signs from {ActivatesAt:O}.")]
    private partial void LogCreated(string keyId, string algorithm, DateTimeOffset activatesAt);

    [LoggerMessage(EventId = LogEvents.SigningKeyStateChanged, Level = LogLevel.Information, Message = "Signing key {KeyId} is now {State}.")]
    private partial void LogStateChanged(string keyId, KeyState state);

    [LoggerMessage(EventId = LogEvents.SigningKeyRevoked, Level = LogLevel.Warning, Message = "Signing key {KeyId} revoked: it no longer signs, verifies or is published.")]
    private partial void LogRevoked(string keyId);

    [LoggerMessage(EventId = LogEvents.SigningKeyPromotedEarly, Level = LogLevel.Warning, Message = "No signing key was active; pending key {KeyId} was activated ahead of its propagation time.")]
    private partial void LogPromotedEarly(string keyId);

    [LoggerMessage(EventId = LogEvents.SigningKeyHandlerFailed, Level = LogLevel.Error, Message = "A key lifecycle handler failed for key {KeyId} ({State}); the key ring carries on.")]
    private partial void LogHandlerFailed(Exception exception, string keyId, KeyState state);

    [LoggerMessage(EventId = LogEvents.SigningKeyPurged, Level = LogLevel.Information, Message = "Signing key {KeyId} is past retention and was deleted.")]
    private partial void LogPurged(string keyId);

    private sealed record Snapshot(
        DateTimeOffset ValidUntil,
        SigningKey? Signing,
        FrozenDictionary<string, SigningKey> Verification,
        FrozenSet<string> Revoked,
        byte[] Jwks,
        IReadOnlyDictionary<string, KeyState> States)
    {
        public static Snapshot Empty { get; } = new(
            DateTimeOffset.MinValue,
            null,
            FrozenDictionary<string, SigningKey>.Empty,
            FrozenSet<string>.Empty,
            "{\"keys\":[]}"u8.ToArray(),
            new Dictionary<string, KeyState>());
    }
}
