package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// publicError is the safe, Chinese face of an error: what a user may read.
type publicError struct {
	status  int
	heading string
	message string
}

// classify maps an error to its status and safe message. Internal details
// never leave this function.
func classify(err error) publicError {
	var he *echo.HTTPError
	switch {
	case errors.Is(err, models.ErrNotFound):
		return publicFor(http.StatusNotFound)
	case errors.Is(err, models.ErrConflict):
		return publicFor(http.StatusConflict)
	case errors.As(err, new(*models.ValidationError)):
		return publicFor(http.StatusUnprocessableEntity)
	case errors.Is(err, context.DeadlineExceeded):
		return publicFor(http.StatusServiceUnavailable)
	case errors.As(err, &he):
		if he.Code == http.StatusForbidden && he.Message != csrfFailure {
			return publicError{http.StatusForbidden, "无权进行此操作", "该记录不属于您管理的部门，或您的账号没有这项权限。如需办理，请联系系统管理员。"}
		}
		return publicFor(he.Code)
	}
	return publicFor(http.StatusInternalServerError)
}

func publicFor(status int) publicError {
	switch status {
	case http.StatusBadRequest:
		return publicError{status, "请求无法识别", "您访问的地址或提交的参数有误，请检查后重试。"}
	case http.StatusNotFound:
		return publicError{status, "页面不存在", "您访问的页面不存在，可能是地址输入有误，或该内容已调整。事项和窗口的网址长期有效，请核对链接是否完整。"}
	case http.StatusMethodNotAllowed:
		return publicError{status, "请求方式不正确", "该页面不支持这种访问方式，请从页面上的链接或按钮进入。"}
	case http.StatusConflict:
		return publicError{status, "内容已被他人修改", "您提交的内容与最新版本冲突，请刷新页面查看最新内容后再修改。"}
	case http.StatusForbidden:
		return publicError{status, "页面已过期", "页面已过期或来源无法确认，请返回上一页刷新后重新提交。"}
	case http.StatusRequestEntityTooLarge:
		return publicError{status, "提交的内容过大", "提交的内容超过了允许的大小，请精简后重试。"}
	case http.StatusUnprocessableEntity:
		return publicError{status, "提交的内容有误", "请按页面提示修改后重新提交。"}
	case http.StatusTooManyRequests:
		return publicError{status, "操作过于频繁", "您的操作过于频繁，请稍候再试。"}
	case http.StatusServiceUnavailable:
		return publicError{status, "服务暂时繁忙", "系统当前访问量较大，请稍后再试。"}
	}
	if status >= 400 && status < 500 {
		return publicError{status, "请求无法处理", "您的请求无法处理，请检查后重试。"}
	}
	return publicError{http.StatusInternalServerError, "系统暂时无法处理您的请求", "我们已记录此问题并将尽快处理，请稍后再试。"}
}

// handleError is Echo's one error handler: it logs server errors with the
// request ID and renders the error page with a safe message.
func (h *Handler) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	pe := classify(err)
	// The timeout middleware has cancelled the request's context by the time
	// Echo calls this handler; the error page must render all the same.
	c.SetRequest(c.Request().WithContext(context.WithoutCancel(c.Request().Context())))
	if pe.status >= 500 {
		h.logger.ErrorContext(c.Request().Context(), "request failed",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", pe.status),
			slog.Any("error", err))
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(pe.status)
		return
	}
	p := h.page(c, pe.heading)
	if rerr := h.render(c, pe.status, views.ErrorPage(p, pe.status, pe.heading, pe.message)); rerr != nil {
		h.logger.Error("render error page", slog.Any("error", rerr))
		c.String(pe.status, pe.heading)
	}
}
