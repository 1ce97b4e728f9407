using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Sessions;
using Safeguard.Tokens;
using Safeguard.Users;

namespace Safeguard.Server.Tests.People;

/// <summary>
/// Step-up (RFC 9470 with OIDC <c>acr_values</c>) and roles that require MFA, on a server where MFA is not required
/// for everyone: an AAL1 session is not reused for a request that asks for AAL2, and a role that reaches PHI needs a
/// second factor.
/// </summary>
public sealed class StepUpTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "copper lantern orchard meadow";

    private RunningServer _server = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync(extra: ["--Safeguard:SignIn:RequireMfa=false", "--Safeguard:SignIn:MfaRoles:0=clinician"]);
        _secret = (await _server.AddCodeFlowClientAsync("chart-app", RedirectUri))!;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AnAal1Session_IsNotReusedForAal2_TheUserStepsUpWithTheirNewFactor()
    {
        var (user, _) = await _server.AddUserAsync("front.desk", Password, totp: false, roles: []);
        using var browser = new FormBrowser(_server);

        var (verifier, challenge) = FormBrowser.Pkce();
        var first = await browser.SignInThroughAsync(AuthorizeUrl(challenge), "front.desk", Password, totpCode: null);
        Assert.Equal(HttpStatusCode.SeeOther, first.StatusCode);
        var aal1 = await AccessTokenAsync(FormBrowser.QueryOf(first.Headers.Location!)["code"], verifier);
        Assert.Equal(AuthenticationContext.Aal1, aal1.AuthenticationContextClass);
        Assert.Equal(["pwd"], aal1.AuthenticationMethods);

        // Without acr_values the AAL1 session is reused; with acr_values=AAL2 it is not.
        (verifier, challenge) = FormBrowser.Pkce();
        var again = await browser.GetAsync(AuthorizeUrl(challenge));
        Assert.StartsWith(RedirectUri, again.Headers.Location!.OriginalString, StringComparison.Ordinal);
        (verifier, challenge) = FormBrowser.Pkce();
        var stepUp = await browser.GetAsync(AuthorizeUrl(challenge) + "&acr_values=" + Uri.EscapeDataString(AuthenticationContext.Aal2));
        Assert.StartsWith("/signin?request=", stepUp.Headers.Location!.OriginalString, StringComparison.Ordinal);
        var noneUp = await browser.GetAsync(AuthorizeUrl(FormBrowser.Pkce().Challenge) + "&prompt=none&acr_values=" + Uri.EscapeDataString(AuthenticationContext.Aal2));
        Assert.Equal("login_required", FormBrowser.QueryOf(noneUp.Headers.Location!)["error"]);

        // With no second factor, the password alone cannot satisfy AAL2.
        var refused = await browser.SignInThroughAsync(AuthorizeUrl(challenge) + "&acr_values=" + Uri.EscapeDataString(AuthenticationContext.Aal2), "front.desk", Password, totpCode: null);
        Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
        Assert.Contains("no second factor yet", browser.LastPage, StringComparison.Ordinal);

        // Once an authenticator app is enrolled, the same request signs in with both and the token says AAL2.
        var enrolment = _server.Services.GetRequiredService<TotpAuthenticators>().Create(user);
        await _server.Services.GetRequiredService<IAuthenticatorStore>().AddAsync([enrolment.Authenticator], CancellationToken.None);
        (verifier, challenge) = FormBrowser.Pkce();
        var stepped = await browser.SignInThroughAsync(AuthorizeUrl(challenge) + "&acr_values=" + Uri.EscapeDataString(AuthenticationContext.Aal2), "front.desk", Password, () => _server.TotpCode(enrolment.Authenticator));
        Assert.Equal(HttpStatusCode.SeeOther, stepped.StatusCode);
        var aal2 = await AccessTokenAsync(FormBrowser.QueryOf(stepped.Headers.Location!)["code"], verifier);
        Assert.Equal(AuthenticationContext.Aal2, aal2.AuthenticationContextClass);
        Assert.Equal(["pwd", "otp", "mfa"], aal2.AuthenticationMethods);
    }

    [Fact]
    public async Task ARoleThatReachesPhi_NeedsASecondFactor_EvenWhereMfaIsNotRequiredForAll()
    {
        await _server.AddUserAsync("dr.lee", Password, totp: false, roles: ["clinician"]);
        await _server.AddUserAsync("billing.kim", Password, totp: false, roles: ["billing"]);
        using var browser = new FormBrowser(_server);

        var clinician = await browser.SignInThroughAsync(AuthorizeUrl(FormBrowser.Pkce().Challenge), "dr.lee", Password, totpCode: null);
        Assert.Equal(HttpStatusCode.OK, clinician.StatusCode);
        Assert.Contains("no second factor yet", browser.LastPage, StringComparison.Ordinal);

        var billing = await browser.SignInThroughAsync(AuthorizeUrl(FormBrowser.Pkce().Challenge), "billing.kim", Password, totpCode: null);
        Assert.Equal(HttpStatusCode.SeeOther, billing.StatusCode);
    }

    [Fact]
    public async Task AnAal1Session_IsNotReused_OnceTheUserHoldsARoleThatNeedsMfa()
    {
        var (user, _) = await _server.AddUserAsync("reception", Password, totp: false, roles: []);
        using var browser = new FormBrowser(_server);
        var first = await browser.SignInThroughAsync(AuthorizeUrl(FormBrowser.Pkce().Challenge), "reception", Password, totpCode: null);
        Assert.Equal(HttpStatusCode.SeeOther, first.StatusCode);
        Assert.StartsWith(RedirectUri, (await browser.GetAsync(AuthorizeUrl(FormBrowser.Pkce().Challenge))).Headers.Location!.OriginalString, StringComparison.Ordinal);

        var store = _server.Services.GetRequiredService<IUserStore>();
        var stored = (await store.FindBySubjectAsync(user.Subject, CancellationToken.None))!;
        Assert.True(await store.UpdateAsync(stored with { Roles = ["clinician"], UpdatedAt = stored.UpdatedAt.AddSeconds(1) }, stored.UpdatedAt, CancellationToken.None));

        var after = await browser.GetAsync(AuthorizeUrl(FormBrowser.Pkce().Challenge));
        Assert.StartsWith("/signin?request=", after.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public void MfaRoles_Decide_WhoNeedsASecondFactor()
    {
        User Holding(params string[] roles) => new() { Subject = UserSubjects.New(), Username = "u", Roles = roles };
        var everyone = new SignInOptions { RequireMfa = true };
        var anyRole = new SignInOptions { RequireMfa = false };
        var clinicians = new SignInOptions { RequireMfa = false, MfaRoles = ["clinician"] };

        Assert.True(everyone.MfaRequiredFor(Holding()));
        Assert.False(anyRole.MfaRequiredFor(Holding()));
        Assert.True(anyRole.MfaRequiredFor(Holding("billing")));
        Assert.False(clinicians.MfaRequiredFor(Holding("billing")));
        Assert.True(clinicians.MfaRequiredFor(Holding("billing", "clinician")));
        Assert.True(new SignInOptionsValidator().Validate(null, new SignInOptions { MfaRoles = ["role<script>"] }).Failed);
        Assert.True(new SignInOptions { RequireMfa = false, MfaRoles = ["clinician,nurse"] }.MfaRequiredFor(Holding("nurse"))); // one entry listing two roles still counts both
    }

    private static string AuthorizeUrl(string challenge) =>
        "/authorize?response_type=code&client_id=chart-app&redirect_uri=" + Uri.EscapeDataString(RedirectUri)
        + "&scope=openid%20patient.read&state=s&code_challenge=" + challenge + "&code_challenge_method=S256";

    private async Task<ValidatedAccessToken> AccessTokenAsync(string code, string verifier)
    {
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = RedirectUri, ["code_verifier"] = verifier }),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("chart-app:" + _secret)));
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(response.StatusCode == HttpStatusCode.OK, json.RootElement.ToString());
        var result = _server.Services.GetRequiredService<AccessTokenValidator>().ValidateIssuedToken(json.RootElement.GetProperty("access_token").GetString());
        Assert.True(result.IsValid, result.ErrorCode);
        return result.Token!;
    }
}
