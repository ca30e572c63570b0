package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// The admin session lives in its own cookie, scoped to /admin, with a fixed
// idle and absolute lifetime.
const (
	adminCookie      = "portal_admin"
	adminIdle        = 30 * time.Minute
	adminAbsolute    = 8 * time.Hour
	adminTouchEvery  = time.Minute
	userKey          = "portal.user"
	sessionUser      = "uid"
	sessionVersion   = "ver"
	sessionIssued    = "iat"
	sessionLastSeen  = "seen"
	signInNextMaxLen = 200
)

func (h *Handler) adminSession(c echo.Context) *sessions.Session {
	sess, _ := h.sessions.Get(c.Request(), adminCookie)
	sess.Options = &sessions.Options{Path: "/admin", MaxAge: 0, HttpOnly: true,
		Secure: h.secureCookies, SameSite: http.SameSiteLaxMode}
	return sess
}

// currentUser is the signed-in staff member of a request behind
// requireStaff.
func currentUser(c echo.Context) *models.User {
	u, _ := c.Get(userKey).(*models.User)
	return u
}

// actor is the current user as the records name them.
func actor(c echo.Context) models.Actor {
	u := currentUser(c)
	name := u.DisplayName
	if u.Department != nil {
		name = u.Department.ShortName + " " + name
	}
	return models.Actor{UserID: u.ID, Login: u.Username, Name: name}
}

// requireStaff lets through only a request with a live admin session: not
// idle too long, not older than the absolute lifetime, of an enabled user
// whose sessions have not been ended since. Others go to the sign-in page.
func (h *Handler) requireStaff(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := h.adminSession(c)
		now := time.Now()
		uid, _ := sess.Values[sessionUser].(uint)
		ver, _ := sess.Values[sessionVersion].(int)
		issued, _ := sess.Values[sessionIssued].(int64)
		seen, _ := sess.Values[sessionLastSeen].(int64)
		live := uid != 0 && now.Sub(time.Unix(issued, 0)) < adminAbsolute && now.Sub(time.Unix(seen, 0)) < adminIdle
		var u *models.User
		if live {
			var err error
			u, err = h.store.FindUser(c.Request().Context(), uid)
			if err != nil && !errors.Is(err, models.ErrNotFound) {
				return err
			}
			live = u != nil && u.SessionVersion == ver
		}
		if !live {
			target := "/admin/login"
			if c.Request().Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
			}
			return seeOther(c, target)
		}
		if now.Sub(time.Unix(seen, 0)) > adminTouchEvery {
			sess.Values[sessionLastSeen] = now.Unix()
			if err := sess.Save(c.Request(), c.Response()); err != nil {
				return err
			}
		}
		c.Set(userKey, u)
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// requireSystemAdmin refuses (403) any user but a 系统管理员.
func requireSystemAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u := currentUser(c); u == nil || u.Role != models.RoleSystemAdmin {
			return echo.NewHTTPError(http.StatusForbidden)
		}
		return next(c)
	}
}

// safeNext keeps a post-sign-in destination inside the admin area.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		len(next) > signInNextMaxLen || strings.HasPrefix(next, "/admin/login") {
		return "/admin"
	}
	return next
}

func (h *Handler) handleAdminLoginForm(c echo.Context) error {
	p := h.page(c, "工作人员登录")
	switch {
	case c.QueryParam("out") != "":
		p.Flash = "您已退出管理后台。"
	case c.QueryParam("changed") != "":
		p.Flash = "密码已修改，所有设备上的登录均已退出，请用新密码登录。"
	}
	return h.render(c, http.StatusOK, views.LoginPage(p, views.LoginForm{CSRF: csrfToken(c), Next: safeNext(c.QueryParam("next"))}))
}

// handleAdminLogin signs a staff member in. Every failure reads the same,
// so that nobody learns which usernames exist.
func (h *Handler) handleAdminLogin(c echo.Context) error {
	form := views.LoginForm{CSRF: csrfToken(c), Username: displayable(c.FormValue("username")), Next: safeNext(c.FormValue("next"))}
	p := h.page(c, "工作人员登录")
	u, err := h.store.Authenticate(c.Request().Context(), c.FormValue("username"), c.FormValue("password"),
		h.pseudonym(c.RealIP()), models.DefaultSignInLimits(), time.Now())
	switch {
	case errors.Is(err, models.ErrSignInFailed):
		form.Error = "用户名或密码不正确，或账号已停用。"
		return h.render(c, http.StatusUnprocessableEntity, views.LoginPage(p, form))
	case errors.Is(err, models.ErrSignInThrottled):
		form.Error = "登录失败次数过多，请 15 分钟后再试；如忘记密码，请联系系统管理员。"
		return h.render(c, http.StatusTooManyRequests, views.LoginPage(p, form))
	case err != nil:
		return err
	}
	// A new session at every sign-in: whatever the browser held before is
	// replaced, never reused.
	sess := h.adminSession(c)
	now := time.Now().Unix()
	sess.Values = map[any]any{sessionUser: u.ID, sessionVersion: u.SessionVersion, sessionIssued: now, sessionLastSeen: now}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	// The CSRF token is renewed too: one planted before sign-in must not
	// carry over into the signed-in session. The next page sets a new one.
	c.SetCookie(&http.Cookie{Name: csrfCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.secureCookies, SameSite: http.SameSiteLaxMode})
	return seeOther(c, form.Next)
}

// handleAdminLogout ends every session of the user, not only this cookie.
func (h *Handler) handleAdminLogout(c echo.Context) error {
	if err := h.store.EndSessions(c.Request().Context(), currentUser(c).ID); err != nil {
		return err
	}
	sess := h.adminSession(c)
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return seeOther(c, "/admin/login?out=1")
}

func (h *Handler) handleAdminPasswordForm(c echo.Context) error {
	return h.render(c, http.StatusOK, views.PasswordPage(h.adminPage(c, "修改密码"), views.PasswordForm{CSRF: csrfToken(c)}))
}

func (h *Handler) handleAdminPasswordUpdate(c echo.Context) error {
	u := currentUser(c)
	// A typo in the new password would lock the user out: every session
	// ends with the change. So it is typed twice.
	if c.FormValue("password") != c.FormValue("confirm") {
		form := views.PasswordForm{CSRF: csrfToken(c), Errors: map[string]string{"confirm": "两次输入的新密码不一致，请重新输入。"}}
		return h.render(c, http.StatusUnprocessableEntity, views.PasswordPage(h.adminPage(c, "修改密码"), form))
	}
	err := h.store.ChangePassword(c.Request().Context(), u.ID, c.FormValue("current"), c.FormValue("password"))
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		form := views.PasswordForm{CSRF: csrfToken(c), Errors: verr.Fields}
		return h.render(c, http.StatusUnprocessableEntity, views.PasswordPage(h.adminPage(c, "修改密码"), form))
	}
	if err != nil {
		return err
	}
	// The change ended every session; sign in again with the new password.
	return seeOther(c, "/admin/login?changed=1")
}
