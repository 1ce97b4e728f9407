using System.Collections.Frozen;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Safeguard.Keys;

namespace Safeguard.AspNetCore;

/// <summary>
/// The keys a resource server trusts: the authority's published signing keys, read from the <c>jwks_uri</c> of its
/// discovery document over https (the document's <c>issuer</c> must be the authority; a key's <c>kid</c> must be its
/// RFC 7638 thumbprint and its <c>alg</c> one Safeguard signs with). Read on first use, again on a schedule, and at
/// most once per window for an unknown key id. A failed read keeps the keys already known (fail closed for others);
/// a key the authority stops publishing stops being trusted at the next read, and caches of tokens it verified are
/// emptied.
/// </summary>
internal sealed partial class AuthorityKeys : IVerificationKeySource, IDisposable
{
    private const int MaxDocumentBytes = 64 * 1024;
    private const int MaxKeys = 32;
    private static readonly string[] Algorithms = [SigningAlgorithms.ES256, SigningAlgorithms.ES384, SigningAlgorithms.PS256, SigningAlgorithms.RS256];

    private readonly string _authority;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _unknownKeyInterval;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile FrozenDictionary<string, SigningKey> _keys = FrozenDictionary<string, SigningKey>.Empty;
    private long _lastReadTicks = DateTimeOffset.MinValue.UtcTicks;
    private long _lastAttemptTicks = DateTimeOffset.MinValue.UtcTicks;
    private long _lastUnknownTicks = DateTimeOffset.MinValue.UtcTicks;
    private int _backgroundRead;
    private volatile bool _loaded;

    public AuthorityKeys(SafeguardJwtOptions options, TimeProvider time, ILogger logger)
    {
        _authority = options.Authority.TrimEnd('/');
        _http = new HttpClient(options.BackchannelHandler ?? new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(5) }, disposeHandler: options.BackchannelHandler is null)
        {
            Timeout = TimeSpan.FromSeconds(10),
            MaxResponseContentBufferSize = MaxDocumentBytes,
        };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        _time = time;
        _logger = logger;
        _refreshInterval = options.KeyRefreshInterval;
        _unknownKeyInterval = options.UnknownKeyRefreshInterval;
    }

    public event EventHandler<KeyRevokedEventArgs>? KeyRevoked;

    /// <summary>Whether a read has ever succeeded.</summary>
    public bool Loaded => _loaded;

    public KeyLookup FindKey(string keyId) => _keys.TryGetValue(keyId, out var key) ? new KeyLookup(key, false) : default;

    /// <summary>
    /// Reads the keys when the schedule says so: in the background when some are known (requests go on with them),
    /// awaited when none are. Until a first read succeeds, reads are at most one per unknown-key window, so an
    /// unreachable authority is not asked once per request.
    /// </summary>
    public Task EnsureCurrentAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (!_loaded)
        {
            // A read under way (the gate taken) is waited for: the requests that arrive with the first one use what it reads.
            return now - ReadTime(ref _lastAttemptTicks) >= _unknownKeyInterval || _gate.CurrentCount == 0
                ? ReadAsync(force: false, cancellationToken)
                : Task.CompletedTask;
        }

        if (now - ReadTime(ref _lastReadTicks) >= _refreshInterval && now - ReadTime(ref _lastAttemptTicks) >= _unknownKeyInterval
            && Interlocked.CompareExchange(ref _backgroundRead, 1, 0) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await ReadAsync(force: false, CancellationToken.None).ConfigureAwait(false);
                }
                finally
                {
                    Volatile.Write(ref _backgroundRead, 0);
                }
            }, CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// For a token naming an unknown key: reads again unless that was done within the window (checked and set
    /// atomically). True if a read happened, or one under way was waited for (the token is then checked again).
    /// </summary>
    public async Task<bool> TryReadForUnknownKeyAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var last = Interlocked.Read(ref _lastUnknownTicks);
        if (now.UtcTicks - last < _unknownKeyInterval.Ticks || Interlocked.CompareExchange(ref _lastUnknownTicks, now.UtcTicks, last) != last)
        {
            if (_gate.CurrentCount > 0)
            {
                return false;
            }

            // Another request's read is under way (a rotation seen by many requests at once): wait for what it brings.
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            _gate.Release();
            return true;
        }

        await ReadAsync(force: true, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static DateTimeOffset ReadTime(ref long ticks) => new(Interlocked.Read(ref ticks), TimeSpan.Zero);

    public void Dispose()
    {
        _http.Dispose();
        _gate.Dispose();
    }

    private async Task ReadAsync(bool force, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            if (!force && (_loaded ? now - ReadTime(ref _lastReadTicks) < _refreshInterval : now - ReadTime(ref _lastAttemptTicks) < _unknownKeyInterval))
            {
                return; // another request read them (or tried) meanwhile
            }

            Interlocked.Exchange(ref _lastAttemptTicks, now.UtcTicks);
            var read = await FetchAsync(now, cancellationToken).ConfigureAwait(false);
            if (read is null)
            {
                return;
            }

            Interlocked.Exchange(ref _lastReadTicks, now.UtcTicks);

            var previous = _keys;
            _keys = read;
            _loaded = true;
            foreach (var gone in previous.Keys.Where(kid => !read.ContainsKey(kid)))
            {
                KeyRevoked?.Invoke(this, new KeyRevokedEventArgs(gone));
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The published keys, or null (logged) when they cannot be read or are not acceptable.</summary>
    private async Task<FrozenDictionary<string, SigningKey>?> FetchAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            using var discovery = await GetJsonAsync(new Uri(_authority + SafeguardJwtDefaults.DiscoveryPath), cancellationToken).ConfigureAwait(false);
            var root = discovery.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("issuer", out var issuer) || issuer.ValueKind != JsonValueKind.String || issuer.GetString() != _authority
                || !root.TryGetProperty("jwks_uri", out var jwksUri) || jwksUri.ValueKind != JsonValueKind.String
                || !Uri.TryCreate(jwksUri.GetString(), UriKind.Absolute, out var jwksLocation) || jwksLocation.Scheme != Uri.UriSchemeHttps)
            {
                LogRefused(_logger, _authority, "the discovery document's issuer is not the authority, or it has no https jwks_uri");
                return null;
            }

            using var jwks = await GetJsonAsync(jwksLocation, cancellationToken).ConfigureAwait(false);
            if (jwks.RootElement.ValueKind != JsonValueKind.Object || !jwks.RootElement.TryGetProperty("keys", out var keys)
                || keys.ValueKind != JsonValueKind.Array || keys.GetArrayLength() > MaxKeys)
            {
                LogRefused(_logger, _authority, $"the JWKS is not an object with a keys array of at most {MaxKeys}");
                return null;
            }

            var accepted = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
            foreach (var jwk in keys.EnumerateArray())
            {
                if (jwk.ValueKind != JsonValueKind.Object
                    || !jwk.TryGetProperty("kid", out var kid) || kid.ValueKind != JsonValueKind.String
                    || !jwk.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || !Algorithms.Contains(alg.GetString(), StringComparer.Ordinal))
                {
                    LogKeySkipped(_logger, _authority, "no kid, or no alg Safeguard signs with");
                    continue;
                }

                var publicKey = JwkPublicKey.FromJwk(jwk, out var problem);
                if (publicKey is null || publicKey.Thumbprint != kid.GetString())
                {
                    publicKey?.Dispose();
                    LogKeySkipped(_logger, _authority, problem ?? "its kid is not its RFC 7638 thumbprint");
                    continue;
                }

                accepted[publicKey.Thumbprint] = SigningKey.FromPublishedKey(publicKey, alg.GetString()!, now);
            }

            return accepted.ToFrozenDictionary(StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            LogUnreachable(_logger, _authority, ex.GetType().Name);
            return null;
        }
    }

    private async Task<JsonDocument> GetJsonAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"HTTP {(int)response.StatusCode}", null, response.StatusCode);
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
    }

    [LoggerMessage(EventId = LogEvents.AuthorityKeysUnreachable, Level = LogLevel.Warning, Message = "The keys of authority {Authority} could not be read ({Failure}); the keys already known stay trusted, no other is.")]
    private static partial void LogUnreachable(ILogger logger, string authority, string failure);

    [LoggerMessage(EventId = LogEvents.AuthorityKeysRefused, Level = LogLevel.Error, Message = "The keys of authority {Authority} were refused: {Problem}. The keys already known stay trusted, no other is.")]
    private static partial void LogRefused(ILogger logger, string authority, string problem);

    [LoggerMessage(EventId = LogEvents.AuthorityKeySkipped, Level = LogLevel.Warning, Message = "A key published by authority {Authority} was skipped: {Problem}.")]
    private static partial void LogKeySkipped(ILogger logger, string authority, string problem);
}
