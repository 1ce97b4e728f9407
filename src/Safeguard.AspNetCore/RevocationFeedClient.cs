using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Safeguard.Tokens;

namespace Safeguard.AspNetCore;

/// <summary>
/// Follows the authority's revocation feed (<c>POST /revocations</c>, long polling with a resume cursor) and answers
/// whether a verified token has been revoked since: its <c>jti</c>, its session, its user, its client or its signing
/// key. A revocation is known here within about a second of being made on any server node. While the feed cannot be
/// reached for longer than <see cref="SafeguardJwtOptions.RevocationFeedOutageBound"/>, tokens issued before the
/// outage began are refused (unless <see cref="SafeguardJwtOptions.RevocationFeedFailOpen"/>), and
/// <see cref="IsCurrent"/> says so for the health check.
/// </summary>
internal sealed partial class RevocationFeedClient : IDisposable
{
    private const int MaxResponseBytes = 8 * 1024 * 1024;
    private static readonly TimeSpan Keep = TimeSpan.FromHours(24);

    private readonly Uri _feed;
    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue _credentials;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _outageBound;
    private readonly bool _failOpen;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<(RevocationKind, string), DateTimeOffset> _revoked = new();
    private readonly DateTimeOffset _started;
    private static readonly TimeSpan LongPollWait = TimeSpan.FromSeconds(20);
    private long _lastSuccessTicks;
    private long _waitingSinceTicks;
    private Task? _loop;

    public RevocationFeedClient(SafeguardJwtOptions options, TimeProvider time, ILogger logger)
    {
        _feed = new Uri(options.Authority.TrimEnd('/') + "/revocations");
        _http = new HttpClient(options.BackchannelHandler ?? new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(5) }, disposeHandler: options.BackchannelHandler is null)
        {
            Timeout = TimeSpan.FromSeconds(40),
            MaxResponseContentBufferSize = MaxResponseBytes,
        };
        _credentials = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(
            Uri.EscapeDataString(options.RevocationFeedClientId!) + ":" + Uri.EscapeDataString(options.RevocationFeedClientSecret!))));
        _time = time;
        _logger = logger;
        _outageBound = options.RevocationFeedOutageBound;
        _failOpen = options.RevocationFeedFailOpen;
        _started = time.GetUtcNow();
    }

    /// <summary>When the feed last answered; null if it never has.</summary>
    public DateTimeOffset? LastSuccess => Interlocked.Read(ref _lastSuccessTicks) is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>
    /// Whether the feed is followed: it answered within the outage bound (or the bound has not yet passed since start),
    /// or a long poll sent right after an answer is still open within its wait and the bound (the server holds it
    /// until something is revoked).
    /// </summary>
    public bool IsCurrent
    {
        get
        {
            var now = _time.GetUtcNow();
            if (now - (LastSuccess ?? _started) <= _outageBound)
            {
                return true;
            }

            var waiting = Interlocked.Read(ref _waitingSinceTicks);
            return waiting > 0 && now - new DateTimeOffset(waiting, TimeSpan.Zero) <= LongPollWait + _outageBound;
        }
    }

    /// <summary>Why the last attempt to follow the feed failed (no secret in it); null after a success.</summary>
    public string? LastError { get; private set; }

    /// <summary>How many revocations are held.</summary>
    public int Count => _revoked.Count;

    /// <summary>Starts following the feed (once).</summary>
    public void Start()
    {
        if (_loop is null && Interlocked.CompareExchange(ref _loop, Task.CompletedTask, null) is null)
        {
            _loop = Task.Run(FollowAsync);
        }
    }

    /// <summary>The refusal code for <paramref name="token"/>, or null when nothing revoked it.</summary>
    public string? Check(ValidatedAccessToken token)
    {
        var issued = token.IssuedAt ?? DateTimeOffset.MinValue;
        if ((token.TokenId is { } jti && _revoked.ContainsKey((RevocationKind.TokenId, jti)))
            || Covers(RevocationKind.Session, token.SessionId, issued)
            || Covers(RevocationKind.Subject, token.Subject, issued)
            || Covers(RevocationKind.Client, token.ClientId, issued)
            || _revoked.ContainsKey((RevocationKind.Key, token.KeyId)))
        {
            return SafeguardErrorCodes.TokenRevoked;
        }

        // Fail closed: past the outage bound, a token issued before the outage began may have been revoked unseen.
        if (!_failOpen && !IsCurrent && issued <= (LastSuccess ?? _started))
        {
            return SafeguardErrorCodes.TokenRevocationUnknown;
        }

        return null;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _http.Dispose();
        _stop.Dispose();
    }

    private bool Covers(RevocationKind kind, string? value, DateTimeOffset issued) =>
        value is not null && _revoked.TryGetValue((kind, value), out var at) && issued <= at;

    private async Task FollowAsync()
    {
        long? since = null;
        var have = 0L;
        var failures = 0;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, _feed);
                request.Headers.Authorization = _credentials;
                var form = new Dictionary<string, string> { ["have"] = have.ToString(CultureInfo.InvariantCulture), ["wait"] = since is null ? "0" : ((int)LongPollWait.TotalSeconds).ToString(CultureInfo.InvariantCulture) };
                if (since is { } cursor)
                {
                    form["since"] = cursor.ToString(CultureInfo.InvariantCulture);
                }

                request.Content = new FormUrlEncodedContent(form);
                if (failures == 0 && since is not null)
                {
                    Interlocked.Exchange(ref _waitingSinceTicks, _time.GetUtcNow().UtcTicks);
                }

                HttpResponseMessage sent;
                try
                {
                    sent = await _http.SendAsync(request, _stop.Token).ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Exchange(ref _waitingSinceTicks, 0);
                }

                using var response = sent;
                if (!response.IsSuccessStatusCode)
                {
                    throw new HttpRequestException($"the feed answered {(int)response.StatusCode}");
                }

                var body = await response.Content.ReadAsStreamAsync(_stop.Token).ConfigureAwait(false); // disposed with the response
                using var json = await JsonDocument.ParseAsync(body, default, _stop.Token).ConfigureAwait(false);
                var root = json.RootElement;
                foreach (var entry in root.GetProperty("entries").EnumerateArray())
                {
                    if (RevocationFeedEntry.TryParse(entry.GetProperty("kind").GetString(), out var kind) && entry.GetProperty("value").GetString() is { Length: > 0 and <= 512 } value)
                    {
                        var at = DateTimeOffset.FromUnixTimeMilliseconds(entry.GetProperty("at").GetInt64());
                        _revoked.AddOrUpdate((kind, value), at, (_, known) => at > known ? at : known);
                    }
                }

                since = root.GetProperty("next").GetInt64();
                have = root.GetProperty("have").GetInt64();
                Interlocked.Exchange(ref _lastSuccessTicks, _time.GetUtcNow().UtcTicks);
                LastError = null;
                if (failures > 0)
                {
                    LogRecovered(_logger, _feed);
                    failures = 0;
                }

                Prune();
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidOperationException or KeyNotFoundException or FormatException or OperationCanceledException)
            {
                LastError = ex.GetType().Name + ": " + ex.Message;
                if (failures++ == 0)
                {
                    LogUnreachable(_logger, _feed, ex.Message);
                }

                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 * failures)), _time, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Forgets revocations older than any token still in use could be.</summary>
    private void Prune()
    {
        var before = _time.GetUtcNow() - Keep;
        foreach (var (key, at) in _revoked)
        {
            if (at < before)
            {
                _revoked.TryRemove(new KeyValuePair<(RevocationKind, string), DateTimeOffset>(key, at));
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.RevocationFeedUnreachable, Level = LogLevel.Warning, Message = "The revocation feed {Feed} cannot be followed ({Error}); retrying. Past the outage bound, tokens issued before it began are refused.")]
    private static partial void LogUnreachable(ILogger logger, Uri feed, string error);

    [LoggerMessage(EventId = LogEvents.RevocationFeedRecovered, Level = LogLevel.Information, Message = "The revocation feed {Feed} answers again.")]
    private static partial void LogRecovered(ILogger logger, Uri feed);
}
