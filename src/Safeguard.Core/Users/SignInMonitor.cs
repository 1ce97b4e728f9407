using Microsoft.Extensions.Options;

namespace Safeguard.Users;

/// <summary>
/// Watches failed sign-ins on this node: too many from one source within a window throttle that source, and a burst
/// across many usernames raises a log-in monitoring alert (164.308(a)(5)(ii)(C)), at most one per window. Memory is
/// bounded (sources and failures kept are capped; expired entries are dropped as new ones arrive).
/// </summary>
public sealed class SignInMonitor
{
    private const int MaxSources = 100_000;
    private const int MaxFailuresKept = 100_000;

    private readonly SignInOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Queue<DateTimeOffset>> _bySource = new(StringComparer.Ordinal);
    private readonly Queue<(DateTimeOffset At, string Account)> _recent = new();
    private readonly Dictionary<string, int> _recentAccounts = new(StringComparer.Ordinal);
    private DateTimeOffset _lastAlert = DateTimeOffset.MinValue;

    /// <summary>Creates the monitor.</summary>
    /// <param name="options">The options (validated here too).</param>
    public SignInMonitor(IOptions<SignInOptions> options) => _options = OptionsGuard.Validated(new SignInOptionsValidator(), options);

    /// <summary>Whether <paramref name="source"/> has reached its failure limit within the window.</summary>
    /// <param name="source">The source key (an IPv4 address, or an IPv6 /64).</param>
    /// <param name="now">The time.</param>
    /// <returns>True if its attempts are to be refused unchecked.</returns>
    public bool IsSourceThrottled(string source, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (!_bySource.TryGetValue(source, out var failures))
            {
                return false;
            }

            Expire(failures, now - _options.SourceWindow);
            return failures.Count >= _options.SourceFailureLimit;
        }
    }

    /// <summary>Records a failed sign-in; returns an alert when this failure completes a burst.</summary>
    /// <param name="source">The source key.</param>
    /// <param name="account">The username key tried (known or not).</param>
    /// <param name="now">The time.</param>
    /// <returns>The alert to raise, or null.</returns>
    public SignInAlert? RecordFailure(string source, string account, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (!_bySource.TryGetValue(source, out var failures))
            {
                if (_bySource.Count >= MaxSources)
                {
                    PruneSources(now);
                }

                failures = new Queue<DateTimeOffset>();
                _bySource[source] = failures;
            }

            Expire(failures, now - _options.SourceWindow);
            if (failures.Count < _options.SourceFailureLimit * 2)
            {
                failures.Enqueue(now);
            }

            _recent.Enqueue((now, account));
            _recentAccounts[account] = _recentAccounts.GetValueOrDefault(account) + 1;
            var since = now - _options.AlertWindow;
            while (_recent.Count > 0 && (_recent.Peek().At <= since || _recent.Count > MaxFailuresKept))
            {
                var (_, old) = _recent.Dequeue();
                if (--_recentAccounts[old] == 0)
                {
                    _recentAccounts.Remove(old);
                }
            }

            if (_recent.Count >= _options.AlertFailures && _recentAccounts.Count >= _options.AlertDistinctAccounts && now - _lastAlert >= _options.AlertWindow)
            {
                _lastAlert = now;
                return new SignInAlert(_recent.Count, _recentAccounts.Count, _options.AlertWindow);
            }

            return null;
        }
    }

    private static void Expire(Queue<DateTimeOffset> failures, DateTimeOffset since)
    {
        while (failures.Count > 0 && failures.Peek() <= since)
        {
            failures.Dequeue();
        }
    }

    private void PruneSources(DateTimeOffset now)
    {
        var since = now - _options.SourceWindow;
        foreach (var (source, failures) in _bySource.ToList())
        {
            Expire(failures, since);
            if (failures.Count == 0)
            {
                _bySource.Remove(source);
            }
        }

        // Still full of live sources (a distributed attack): forget the quietest rather than grow without bound.
        while (_bySource.Count >= MaxSources)
        {
            _bySource.Remove(_bySource.MinBy(s => s.Value.Count).Key);
        }
    }
}

/// <summary>A burst of failed sign-ins across accounts.</summary>
/// <param name="Failures">Failures within the window.</param>
/// <param name="Accounts">Distinct usernames they tried.</param>
/// <param name="Window">The window.</param>
public sealed record SignInAlert(int Failures, int Accounts, TimeSpan Window);
