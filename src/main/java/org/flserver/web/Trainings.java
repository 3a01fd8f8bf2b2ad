package org.flserver.web;

import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Named;
import java.util.List;

/**
 * Backing bean of the trainings list ({@code /admin/trainings.xhtml}). The sort column and
 * direction are view parameters ({@code ?sort=state&dir=desc}), so every order is a plain,
 * bookmarkable GET link and the sorting happens on the server.
 */
@Named
@RequestScoped
public class Trainings {

    @EJB
    AdminTrainingQueries queries;

    private String sort = TrainingSort.DEFAULT.parameter();
    private String dir = "desc";
    private List<TrainingRow> rows;

    /** The view action: loads and sorts the rows once per request. */
    public void load() {
        TrainingSort column = TrainingSort.fromParameter(sort);
        sort = column.parameter();
        dir = "asc".equals(dir) ? "asc" : "desc";
        rows = queries.trainings().stream().sorted(column.comparator(isAscending())).toList();
    }

    public List<TrainingRow> getRows() {
        if (rows == null) {
            load();
        }
        return rows;
    }

    public String getSort() {
        return sort;
    }

    public void setSort(String sort) {
        this.sort = sort;
    }

    public String getDir() {
        return dir;
    }

    public void setDir(String dir) {
        this.dir = dir;
    }

    public boolean isAscending() {
        return "asc".equals(dir);
    }

    /** The direction a header link asks for: the reverse on the current column, ascending on another. */
    public String nextDir(String column) {
        return column.equals(sort) && isAscending() ? "desc" : "asc";
    }

    /** An arrow after the header of the current sort column. */
    public String marker(String column) {
        if (!column.equals(sort)) {
            return "";
        }
        return isAscending() ? " \u25B2" : " \u25BC";
    }
}
