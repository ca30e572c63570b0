package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

func (h *Handler) usersPage(c echo.Context, status int, form views.UserForm) error {
	ctx := c.Request().Context()
	users, err := h.store.ListUsers(ctx)
	if err != nil {
		return err
	}
	depts, err := h.store.ListDepartments(ctx)
	if err != nil {
		return err
	}
	form.CSRF, form.Departments, form.Self = csrfToken(c), depts, currentUser(c).ID
	return h.render(c, status, views.UsersPage(h.adminPage(c, "用户管理"), users, form))
}

func (h *Handler) handleAdminUserIndex(c echo.Context) error {
	return h.usersPage(c, http.StatusOK, views.UserForm{})
}

func (h *Handler) handleAdminUserCreate(c echo.Context) error {
	in := models.UserInput{Username: c.FormValue("username"), DisplayName: c.FormValue("display_name"),
		Password: c.FormValue("password"), Role: c.FormValue("role"), Department: c.FormValue("department")}
	_, err := h.store.CreateUserBy(c.Request().Context(), in, actor(c))
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		form := views.UserForm{Username: displayable(in.Username), DisplayName: displayable(in.DisplayName),
			Role: in.Role, Department: in.Department, Errors: verr.Fields}
		return h.usersPage(c, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	if err := h.setFlash(c, "已新增用户 "+in.Username+"，请将初始密码当面告知本人，并提醒首次登录后修改。"); err != nil {
		return err
	}
	return seeOther(c, "/admin/users")
}

func (h *Handler) setDisabled(c echo.Context, disabled bool) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	err = h.store.SetUserDisabled(c.Request().Context(), id, disabled, actor(c))
	var verr *models.ValidationError
	msg := "已启用该用户。"
	if disabled {
		msg = "已停用该用户，其所有登录已退出。"
	}
	switch {
	case errors.As(err, &verr):
		msg = verr.Field("user")
	case err != nil:
		return err
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return seeOther(c, "/admin/users")
}

func (h *Handler) handleAdminUserDisable(c echo.Context) error { return h.setDisabled(c, true) }

func (h *Handler) handleAdminUserEnable(c echo.Context) error { return h.setDisabled(c, false) }

func (h *Handler) handleAdminUserResetPassword(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	err = h.store.ResetPassword(c.Request().Context(), id, c.FormValue("password"), actor(c))
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		return h.usersPage(c, http.StatusUnprocessableEntity, views.UserForm{ResetID: id, ResetError: verr.Field("password")})
	}
	if err != nil {
		return err
	}
	if err := h.setFlash(c, "已重置密码，该用户的所有登录已退出。请将新密码当面告知本人。"); err != nil {
		return err
	}
	return seeOther(c, "/admin/users")
}
